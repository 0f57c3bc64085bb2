"""The event model: profiles (taxonomy, gazetteer, lexicons), passages, encoder + head, extraction."""
