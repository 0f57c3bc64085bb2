"""Watch profiles: the event taxonomy, gazetteer, lexicons, feeds and alert rules of one domain.

A profile is one YAML file. The default, ``dprk-russia``, ships as package data of ``models``;
``--profile FILE`` loads another. Sections used only by one stage (alert rules, extraction rules)
are kept as plain mappings here and validated by that stage, so the core stays stage-agnostic.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tumen.errors import ConfigError

__all__ = [
    "DEFAULT_PROFILE",
    "ActorSpec",
    "EventTypeSpec",
    "FeedSpec",
    "LexiconEntry",
    "PlaceSpec",
    "Profile",
    "WatchPair",
    "default_profile_path",
    "load_profile",
]

DEFAULT_PROFILE = "dprk-russia"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventTypeSpec(_Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    definition: str = Field(min_length=10)


class ActorSpec(_Spec):
    name: str
    aliases: list[str] = Field(default_factory=list)
    kind: str = "state"


class PlaceSpec(_Spec):
    name: str
    aliases: list[str] = Field(default_factory=list)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    country: str | None = None


class LexiconEntry(_Spec):
    name: str
    aliases: list[str] = Field(default_factory=list)


class FeedSpec(_Spec):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    url: str = Field(pattern=r"^https?://")
    interval_s: int | None = Field(default=None, ge=60, le=86400)
    full_text: bool = False


class WatchPair(_Spec):
    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    actors: tuple[str, str]


class Profile(_Spec):
    name: str
    description: str = ""
    event_types: list[EventTypeSpec] = Field(min_length=1)
    actors: list[ActorSpec] = Field(default_factory=list)
    places: list[PlaceSpec] = Field(default_factory=list)
    lexicons: dict[str, list[LexiconEntry]] = Field(default_factory=dict)
    extraction: dict[str, Any] = Field(default_factory=dict)
    feeds: list[FeedSpec] = Field(default_factory=list)
    watch_pairs: list[WatchPair] = Field(default_factory=list)
    alert_rules: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("event_types")
    @classmethod
    def _unique_types(cls, value: list[EventTypeSpec]) -> list[EventTypeSpec]:
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("event type names must be unique")
        return value

    @property
    def type_names(self) -> list[str]:
        return [t.name for t in self.event_types]


def default_profile_path() -> Path:
    """Location of the shipped default profile (package data of ``models``)."""
    return Path(str(resources.files("models") / "profiles" / f"{DEFAULT_PROFILE}.yaml"))


def load_profile(path: Path | str | None = None) -> Profile:
    """Load and validate a profile; ``None`` loads the shipped default."""
    source = Path(path) if path is not None else default_profile_path()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("profile file not found", source=str(source)) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot read profile: {line}", source=str(source)) from exc
    if not isinstance(raw, dict):
        raise ConfigError("a profile must be a YAML mapping", source=str(source))
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], source=str(source), key=key) from exc
