"""The ``extraction`` section of a profile: the rules of the extractors, as data.

``tumen.profile`` keeps this section as a plain mapping (the core knows no stage); it is validated
here, once, when an :class:`~models.extraction.Extractor` is built. Every list defaults to empty, so
a profile without the section still extracts (numbers, names from its gazetteer) but finds no
cue-driven fields (attribution, direction, modifiers).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tumen.errors import ConfigError

__all__ = [
    "ActorRules",
    "AmbiguousPlace",
    "AttributionRules",
    "ContextRules",
    "DirectionRules",
    "ExtractionRules",
    "ItemRules",
    "PlaceOption",
    "PlaceRules",
    "QuantityRules",
    "TimeRules",
    "VagueNumber",
    "parse_rules",
]

Words = list[str]


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContextRules(_Rules):
    """How far before the passage the extractor may look (for anaphora and implicit subjects)."""

    preceding_sentences: int = Field(default=1, ge=0, le=5)
    max_chars: int = Field(default=600, ge=0, le=5000)


class ActorRules(_Rules):
    not_before_capitalised: Words = Field(default_factory=list)
    anaphora_singular: Words = Field(default_factory=list)
    anaphora_pair: Words = Field(default_factory=list)


class PlaceOption(_Rules):
    place: str
    cues: Words = Field(min_length=1)


class AmbiguousPlace(_Rules):
    alias: str
    options: list[PlaceOption] = Field(min_length=2)


class PlaceRules(_Rules):
    cue_window_chars: int = Field(default=200, ge=0, le=2000)
    ambiguous: list[AmbiguousPlace] = Field(default_factory=list)


class ItemRules(_Rules):
    lexicons_by_event_type: dict[str, Words] = Field(default_factory=dict)


class VagueNumber(_Rules):
    """A vague amount as a multiplier range with a point value: ``several`` = 2..9, about 3."""

    min: float = Field(gt=0)
    max: float = Field(gt=0)
    value: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min <= self.value <= self.max:
            raise ValueError("need min <= value <= max")
        return self


class QuantityRules(_Rules):
    approximate: Words = Field(default_factory=list)
    at_least: Words = Field(default_factory=list)
    at_most: Words = Field(default_factory=list)
    suffix_at_least: Words = Field(default_factory=list)
    suffix_at_most: Words = Field(default_factory=list)
    suffix_approximate: Words = Field(default_factory=list)
    vague_multipliers: dict[str, VagueNumber] = Field(default_factory=dict)
    plural_scale: VagueNumber = VagueNumber(min=2, max=9, value=3)
    units: dict[str, Words] = Field(default_factory=dict)
    length_units: Words = Field(default_factory=list)
    currency_prefixes: dict[str, str] = Field(default_factory=dict)
    rates: Words = Field(default_factory=list)


class TimeRules(_Rules):
    months: Words = Field(default_factory=list)
    weekdays: Words = Field(default_factory=list)
    seasons: Words = Field(default_factory=list)
    units: Words = Field(default_factory=list)
    prepositions: Words = Field(default_factory=list)
    relative: Words = Field(default_factory=list)
    edges: Words = Field(default_factory=list)
    parts: Words = Field(default_factory=list)
    day_parts: Words = Field(default_factory=list)
    deictic: Words = Field(default_factory=list)
    ago: Words = Field(default_factory=list)
    reporting_verbs: Words = Field(default_factory=list)


class AttributionRules(_Rules):
    leads: Words = Field(default_factory=list)
    told_verbs: Words = Field(default_factory=list)
    said_verbs: Words = Field(default_factory=list)
    determiners: Words = Field(default_factory=list)
    modifiers: Words = Field(default_factory=list)
    source_nouns: Words = Field(default_factory=list)
    outlets: Words = Field(default_factory=list)
    qualifiers: Words = Field(default_factory=list)


class DirectionRules(_Rules):
    send_verbs: Words = Field(default_factory=list)
    receive_verbs: Words = Field(default_factory=list)
    send_nouns: Words = Field(default_factory=list)
    receive_nouns: Words = Field(default_factory=list)
    destinations: Words = Field(default_factory=list)
    visit_verbs: Words = Field(default_factory=list)
    not_cues: Words = Field(default_factory=list)
    to_markers: Words = Field(default_factory=list)
    from_markers: Words = Field(default_factory=list)
    by_markers: Words = Field(default_factory=list)
    not_markers: Words = Field(default_factory=list)
    with_markers: Words = Field(default_factory=list)
    actor_adjectives: Words = Field(default_factory=list)
    target_suffixes: Words = Field(default_factory=list)
    clause_breakers: Words = Field(default_factory=list)
    skip_event_types: Words = Field(default_factory=list)


class ExtractionRules(_Rules):
    context: ContextRules = ContextRules()
    case_sensitive: Words = Field(default_factory=list)
    false_friends: Words = Field(default_factory=list)
    actors: ActorRules = ActorRules()
    places: PlaceRules = PlaceRules()
    items: ItemRules = ItemRules()
    quantities: QuantityRules = QuantityRules()
    time: TimeRules = TimeRules()
    attribution: AttributionRules = AttributionRules()
    direction: DirectionRules = DirectionRules()


def parse_rules(raw: dict[str, Any], *, source: str | None = None) -> ExtractionRules:
    """Validate a profile's ``extraction`` mapping; :class:`ConfigError` names the bad key."""
    try:
        return ExtractionRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["extraction", *(str(p) for p in first["loc"])])
        raise ConfigError(first["msg"], source=source, key=key) from exc
