"""Store stage: ``tumen.classified.v1`` → the ``articles`` and ``events`` tables.

A batch of messages is written in one transaction (if the database rejects any of it, each
message is retried in a transaction of its own, so only the culprit is dead-lettered), and each
article and its events idempotently:
- the same message again (same article, same ``model_version``) changes nothing;
- a message from a different ``model_version`` that was classified later replaces the article's
  events (the old version's events are deleted; ``articles.superseded_versions`` counts how often
  that happened, and ``tumen_store_writes_total{kind="replaced"}`` counts it too);
- a message classified earlier than the stored one is ignored (``kind="stale"``), so a replay of
  old messages never rolls an article back.
Offsets are committed by the loop only after the database commit.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, delete
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from consumers.errors import PoisonMessage
from consumers.loop import BatchResult
from tumen.bus import Record
from tumen.bus.base import TOPICS
from tumen.errors import SchemaError, StorageUnavailable
from tumen.metrics import Metrics
from tumen.schemas import Classified, decode_classified, utcnow
from tumen.storage import Article, Event, session_factory
from tumen.storage.db import as_utc

__all__ = ["StoreStage", "write_classified"]

log = logging.getLogger(__name__)


def _event_rows(msg: Classified) -> list[Event]:
    occurred = msg.article.published_at or msg.article.fetched_at
    seen: set[tuple[str, int, int]] = set()
    rows = []
    for e in msg.events:
        if (e.type, e.start, e.end) in seen:
            continue  # the natural key is unique per version; keep the first
        seen.add((e.type, e.start, e.end))
        rows.append(
            Event(
                article_id=msg.article.id,
                model_version=msg.model_version,
                type=e.type,
                confidence=e.confidence,
                evidence=e.evidence,
                start=e.start,
                end=e.end,
                actors=list(e.actors),
                direction_from=e.direction.source if e.direction else None,
                direction_to=e.direction.target if e.direction else None,
                items=list(e.items),
                quantities=[q.model_dump() for q in e.quantities],
                locations=[loc.model_dump() for loc in e.locations],
                time_text=e.time_text,
                attribution=e.attribution,
                occurred_at=occurred,
            )
        )
    return rows


def _new_article(msg: Classified, n_events: int) -> Article:
    a = msg.article
    return Article(
        id=a.id,
        feed=a.feed,
        url=a.url,
        title=a.title,
        summary=a.summary,
        content=a.content,
        published_at=a.published_at,
        fetched_at=a.fetched_at,
        language=a.language,
        content_hash=a.content_hash,
        model_version=msg.model_version,
        classified_at=msg.classified_at,
        stored_at=utcnow(),
        event_count=n_events,
        superseded_versions=0,
    )


def write_classified(session: Session, msg: Classified) -> str:
    """Apply one message inside the caller's transaction; return the kind of write made."""
    events = _event_rows(msg)
    row = session.get(Article, msg.article.id, with_for_update=True)
    if row is None:
        session.add(_new_article(msg, len(events)))
        session.flush()
        session.add_all(events)
        return "inserted"
    if row.model_version == msg.model_version:
        return "duplicate"
    stored_at = as_utc(row.classified_at)
    if stored_at is not None and stored_at > msg.classified_at:
        return "stale"
    session.execute(delete(Event).where(Event.article_id == row.id))
    row.model_version, row.classified_at = msg.model_version, msg.classified_at
    row.event_count = len(events)
    row.superseded_versions += 1
    session.add_all(events)
    return "replaced"


class StoreStage:
    name = "store"
    group = "tumen-store"
    topics: tuple[str, ...] = (TOPICS["classified"],)
    model_version = "-"

    def __init__(self, *, engine: Engine, metrics: Metrics) -> None:
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self._metrics = metrics

    def handle(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        decoded: list[tuple[Record, Classified]] = []
        for rec in records:
            try:
                decoded.append((rec, decode_classified(rec.value)))
            except SchemaError as exc:
                result.failed.append((rec, exc))
        try:  # the whole batch in one transaction: one round of locks and one fsync
            written = list(zip(decoded, self._transaction([m for _, m in decoded]), strict=True))
        except PoisonMessage:  # something in it was rejected: each message alone, to isolate it
            written = []
            for rec, msg in decoded:
                try:
                    written.append(((rec, msg), self._transaction([msg])[0]))
                except PoisonMessage as exc:
                    result.failed.append((rec, exc))
        for (_, msg), kind in written:
            self._metrics.store_writes.labels(kind).inc()
            if kind == "inserted":
                latency = (utcnow() - msg.article.fetched_at).total_seconds()
                self._metrics.pipeline_latency.observe(max(0.0, latency))
        return result

    def _transaction(self, messages: list[Classified]) -> list[str]:
        """Write ``messages`` in one transaction; database failures become transient or poison."""
        if not messages:
            return []
        for attempt in (1, 2):
            try:
                with self._sessions.begin() as session:
                    return [write_classified(session, m) for m in messages]
            except IntegrityError as exc:
                if attempt == 2:  # a concurrent writer won twice: the data itself is bad
                    raise PoisonMessage(f"integrity error: {exc.orig}") from exc
            except OperationalError as exc:
                if exc.connection_invalidated or _is_connection_error(exc):
                    raise StorageUnavailable(f"database unavailable: {exc.orig}") from exc
                raise PoisonMessage(f"database rejected the write: {exc.orig}") from exc
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise StorageUnavailable(f"database unavailable: {exc.orig}") from exc
                self._metrics.store_errors.labels(type(exc.orig).__name__).inc()
                raise PoisonMessage(f"database rejected the write: {exc.orig}") from exc
        raise AssertionError("unreachable")


def _is_connection_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(
        s in text
        for s in (
            "connect",
            "server closed",
            "terminating",
            "database is locked",
            "could not receive",
            "could not send",
            "timeout",
        )
    )
