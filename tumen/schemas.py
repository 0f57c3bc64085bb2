"""Versioned message schemas (architecture.md "Topics" and "An event") with validating codecs.

Messages are JSON objects. Decoding never raises anything but :class:`SchemaError`, which carries
the reason so consumers can dead-letter the message with it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tumen.errors import SchemaError

__all__ = [
    "ARTICLE_SCHEMA",
    "CLASSIFIED_SCHEMA",
    "Alert",
    "Article",
    "Classified",
    "Direction",
    "Event",
    "Location",
    "Quantity",
    "decode_alert",
    "decode_article",
    "decode_classified",
    "encode",
    "utcnow",
]

ARTICLE_SCHEMA: Final = "tumen.article/1"
CLASSIFIED_SCHEMA: Final = "tumen.classified/1"
ALERT_SCHEMA: Final = "tumen.alert/1"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Article(_Frozen):
    schema_: Literal["tumen.article/1"] = Field(default=ARTICLE_SCHEMA, alias="schema")
    id: str = Field(min_length=1, max_length=64)
    feed: str = Field(min_length=1, max_length=200)
    url: str = Field(max_length=4096)
    title: str = ""
    summary: str = ""
    content: str = ""
    published_at: datetime | None = None
    fetched_at: datetime
    language: str | None = None
    content_hash: str = ""

    @property
    def text(self) -> str:
        """The text the model reads: content where there is some, else the summary."""
        return self.content or self.summary


class Quantity(_Frozen):
    text: str
    value: float | None = None
    unit: str | None = None
    approximate: bool = False
    min: float | None = None
    max: float | None = None


class Location(_Frozen):
    name: str
    lat: float | None = None
    lon: float | None = None
    country: str | None = None


class Direction(_Frozen):
    source: str | None = Field(default=None, alias="from")
    target: str | None = Field(default=None, alias="to")


class Event(_Frozen):
    type: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    actors: list[str] = Field(default_factory=list)
    direction: Direction | None = None
    items: list[str] = Field(default_factory=list)
    quantities: list[Quantity] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    time_text: str | None = None
    attribution: str | None = None


class Classified(_Frozen):
    schema_: Literal["tumen.classified/1"] = Field(default=CLASSIFIED_SCHEMA, alias="schema")
    article: Article
    events: list[Event]
    model_version: str
    classified_at: datetime


class Alert(_Frozen):
    schema_: Literal["tumen.alert/1"] = Field(default=ALERT_SCHEMA, alias="schema")
    rule: str
    severity: str
    dedup_key: str
    fired_at: datetime
    event: Event
    article_id: str
    sources: int = 1
    reason: str = ""


def encode(message: BaseModel) -> bytes:
    """Serialise a message to compact UTF-8 JSON with the contract's field names."""
    return message.model_dump_json(by_alias=True).encode("utf-8")


_M = TypeVar("_M", bound=BaseModel)


def _decode(raw: bytes | str, model: type[_M], schema: str) -> _M:
    try:
        obj: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"not JSON: {exc}", schema=schema) from exc
    if not isinstance(obj, dict):
        raise SchemaError(f"expected a JSON object, got {type(obj).__name__}", schema=schema)
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise SchemaError(f"{where}: {first['msg']}", schema=schema) from exc


def decode_article(raw: bytes | str) -> Article:
    return _decode(raw, Article, ARTICLE_SCHEMA)


def decode_classified(raw: bytes | str) -> Classified:
    return _decode(raw, Classified, CLASSIFIED_SCHEMA)


def decode_alert(raw: bytes | str) -> Alert:
    return _decode(raw, Alert, ALERT_SCHEMA)
