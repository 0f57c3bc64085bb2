"""Extraction: the fields of an event (actors, direction, items, quantities, locations, time,
attribution) from its evidence passage, driven by the profile's gazetteer, lexicons and rules.

    extractor = Extractor.from_profile(profile)
    fields = extractor.extract(text, start, end, event_type)
    event = Event(type=..., confidence=..., evidence=text[start:end], start=start, end=end,
                  **fields.as_event_fields())
"""

from models.extraction.extractor import Extracted, Extractor

__all__ = ["Extracted", "Extractor"]
