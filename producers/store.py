"""The producer's SQL state: feeds to poll, what each feed has shown (dedup, tombstones).

``feed_items`` has one row per article id ever published or recorded as a duplicate; rows stay
when an item leaves its feed, so an item that reappears is not new. ``feed_item_sources`` records
which feeds showed an article, so an article known from another feed counts as a duplicate once.
Writes use INSERT ... ON CONFLICT DO NOTHING, so a replayed commit (after a crash, or from a
second producer) is harmless.

SQLite hands back naive datetimes; everything stored is UTC, so they are made aware on the way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from producers.neardup import join_halves, signed_halves
from tumen.storage import Feed, FeedItem, session_factory
from tumen.storage.tables import FeedItemSource

__all__ = ["FeedState", "FeedStore", "FeedUpdate", "ItemRow", "aware"]

_CHUNK = 500  # ids per IN (...) list


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True)
class FeedState:
    """A snapshot of one feed row, detached from any session."""

    id: int
    name: str
    url: str
    interval_s: int | None
    full_text: bool
    etag: str | None
    last_modified: str | None
    consecutive_errors: int
    observed_interval_s: float | None
    next_poll_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None

    @classmethod
    def of(cls, row: Feed) -> FeedState:
        return cls(
            row.id,
            row.name,
            row.url,
            row.interval_s,
            bool(row.full_text),
            row.etag,
            row.last_modified,
            row.consecutive_errors or 0,
            row.observed_interval_s,
            aware(row.next_poll_at),
            aware(row.last_success_at),
            aware(row.last_new_item_at),
        )


@dataclass(frozen=True, slots=True)
class ItemRow:
    article_id: str
    url: str
    content_hash: str
    fingerprint: int | None  # 128-bit SimHash, stored as two signed halves
    duplicate_of: str | None
    published_raw: str | None


@dataclass
class FeedUpdate:
    """What one poll changes on its feed row: column values plus counter increments."""

    feed_id: int
    values: dict[str, Any]
    items_seen: int = 0
    published: int = 0
    new_items: list[ItemRow] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # article ids newly seen in this feed


def _halves(fingerprint: int | None) -> tuple[int, int] | None:
    return signed_halves(fingerprint) if fingerprint is not None else None


class FeedStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)

    def _insert(self, table: Any) -> Insert:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        if self._engine.dialect.name == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        raise NotImplementedError(f"unsupported database {self._engine.dialect.name}")

    # -- polling ----------------------------------------------------------------------------
    def due(self, now: datetime) -> list[FeedState]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Feed)
                .where(Feed.enabled.is_(True), Feed.removed_at.is_(None))
                .where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
                .order_by(Feed.next_poll_at.is_not(None), Feed.next_poll_at, Feed.id)
            ).all()
            return [FeedState.of(r) for r in rows]

    def active(self) -> list[FeedState]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Feed).where(Feed.enabled.is_(True), Feed.removed_at.is_(None))
            ).all()
            return [FeedState.of(r) for r in rows]

    def lookup(self, feed_id: int, ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """(ids this feed has shown before, ids known at all)."""
        here: set[str] = set()
        known: set[str] = set()
        with self._sessions() as session:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                here.update(
                    session.scalars(
                        select(FeedItemSource.article_id).where(
                            FeedItemSource.feed_id == feed_id, FeedItemSource.article_id.in_(chunk)
                        )
                    )
                )
                known.update(
                    session.scalars(
                        select(FeedItem.article_id).where(FeedItem.article_id.in_(chunk))
                    )
                )
        return here, known

    def commit(self, changes: Sequence[FeedUpdate], now: datetime) -> None:
        """One transaction: the feeds' new state, their new items and sightings."""
        with self._sessions.begin() as session:
            for change in changes:
                self._write(session, change, now)

    def _write(self, session: Session, change: FeedUpdate, now: datetime) -> None:
        if change.new_items:
            session.execute(
                self._insert(FeedItem),
                [
                    {
                        "article_id": r.article_id,
                        "feed_id": change.feed_id,
                        "url": r.url,
                        "content_hash": r.content_hash,
                        "simhash": halves[0] if (halves := _halves(r.fingerprint)) else None,
                        "simhash_hi": halves[1] if halves else None,
                        "duplicate_of": r.duplicate_of,
                        "published_raw": r.published_raw,
                        "first_seen_at": now,
                        "last_seen_at": now,
                    }
                    for r in change.new_items
                ],
            )
        if change.sources:
            session.execute(
                self._insert(FeedItemSource),
                [
                    {"feed_id": change.feed_id, "article_id": a, "first_seen_at": now}
                    for a in change.sources
                ],
            )
            self._touch(session, change.sources, now)
        session.execute(
            update(Feed)
            .where(Feed.id == change.feed_id)
            .values(
                **change.values,
                items_seen=Feed.items_seen + change.items_seen,
                articles_published=Feed.articles_published + change.published,
            )
        )

    def _touch(self, session: Session, ids: Sequence[str], now: datetime) -> None:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            session.execute(
                update(FeedItem).where(FeedItem.article_id.in_(chunk)).values(last_seen_at=now)
            )

    def fingerprints_since(self, since: datetime) -> list[tuple[str, int, int | None]]:
        """(article id, SimHash, feed id) of originals first seen since ``since``."""
        with self._sessions() as session:
            rows = session.execute(
                select(FeedItem.article_id, FeedItem.simhash, FeedItem.simhash_hi, FeedItem.feed_id)
                .where(FeedItem.first_seen_at >= since, FeedItem.simhash.is_not(None))
                .where(FeedItem.duplicate_of.is_(None))
                .order_by(FeedItem.first_seen_at)
            ).all()
        return [(a, join_halves(lo, hi or 0), f) for a, lo, hi, f in rows if lo is not None]
