"""Alert rules from the profile's ``alert_rules`` section.

Three kinds:
- ``event``: one event matches by type, actors (``any``/``all``), direction, minimum confidence,
  keywords in the evidence, or items;
- ``rate``: at least ``min_events`` articles with an event of the type (for an actor) within
  ``window``;
- ``spike``: the share of articles with an event of the type within ``window`` is ``factor``
  times its share over the trailing ``baseline`` (normalised by all articles, so a new feed that
  adds volume is not a spike), with at least ``min_events`` in the window.
Every alert has a dedup key and a ``cooldown``: within it the same key does not fire again, and
re-notifies only on material change (more sources crossing ``renotify_sources``, a larger
quantity).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from consumers.errors import RuleError
from tumen.profile import Profile
from tumen.schemas import Event

__all__ = ["EventRule", "RateRule", "Rule", "SpikeRule", "load_rules", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"7d"`` → seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30m, 6h, 7d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    severity: Literal["info", "warning", "critical"] = "warning"
    types: list[str] = Field(min_length=1)
    cooldown: float = 6 * 3600.0
    description: str = ""

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)


class ActorFilter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    any: list[str] = Field(default_factory=list)
    all: list[str] = Field(default_factory=list)


class DirectionFilter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    source: str | None = Field(default=None, alias="from")
    target: str | None = Field(default=None, alias="to")


class EventRule(_Rule):
    kind: Literal["event"] = "event"
    actors: ActorFilter = ActorFilter()
    direction: DirectionFilter | None = None
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    keywords: list[str] = Field(default_factory=list)
    items: list[str] = Field(default_factory=list)
    renotify_sources: list[int] = Field(default_factory=lambda: [3, 10])

    def matches(self, event: Event) -> bool:
        if event.type not in self.types or event.confidence < self.min_confidence:
            return False
        actors = set(event.actors)
        if self.actors.all and not set(self.actors.all) <= actors:
            return False
        if self.actors.any and not actors & set(self.actors.any):
            return False
        if self.direction is not None and not self._direction_ok(event):
            return False
        text = event.evidence.casefold()
        if self.keywords and not any(k.casefold() in text for k in self.keywords):
            return False
        return not self.items or bool(
            {i.casefold() for i in event.items} & {i.casefold() for i in self.items}
        )

    def _direction_ok(self, event: Event) -> bool:
        """A stated direction must agree; an event with no stated direction passes, because
        reports often leave it implicit and missing an arms transfer is worse than a duplicate."""
        assert self.direction is not None
        d = event.direction
        if d is None:
            return True
        src_ok = self.direction.source is None or d.source in (None, self.direction.source)
        dst_ok = self.direction.target is None or d.target in (None, self.direction.target)
        return src_ok and dst_ok


class RateRule(_Rule):
    kind: Literal["rate"]
    actor: str | None = None
    min_events: int = Field(ge=1)
    window: float = 86400.0

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> float:
        return parse_duration(v)


class SpikeRule(_Rule):
    kind: Literal["spike"]
    window: float = 86400.0
    baseline: float = 7 * 86400.0
    factor: float = Field(default=3.0, gt=1)
    min_events: int = Field(default=3, ge=1)
    min_baseline_share: float = Field(default=0.01, ge=0, le=1)

    @field_validator("window", "baseline", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> float:
        return parse_duration(v)


Rule = Annotated[EventRule | RateRule | SpikeRule, Field(discriminator="kind")]
_RULES = TypeAdapter(list[Rule])


def load_rules(profile: Profile) -> list[EventRule | RateRule | SpikeRule]:
    raw = [{"kind": "event", **r} if "kind" not in r else r for r in profile.alert_rules]
    try:
        rules = _RULES.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleError(f"profile {profile.name}: alert_rules.{where}: {first['msg']}") from exc
    known = set(profile.type_names)
    for rule in rules:
        unknown = set(rule.types) - known
        if unknown:
            raise RuleError(
                f"profile {profile.name}: alert rule {rule.name}: unknown types {sorted(unknown)}"
            )
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise RuleError(f"profile {profile.name}: alert rule names must be unique")
    return rules
