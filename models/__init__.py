"""The event model: profile (taxonomy, gazetteer, lexicons), passages, encoder, head, extraction."""
