"""The ``feeds`` table as users manage it: add, list, remove, the profile's list, OPML.

Profile feeds are added when the producer starts (``origin="profile"``) unless a feed with the
same URL or name is already there. Removing a profile feed leaves a tombstone (``removed_at``
set, disabled) so the next start does not bring it back; ``tumen feeds add`` of the same URL
revives it. Feeds from the command line or OPML are deleted outright; their articles' dedup rows
(``feed_items``) stay either way, so re-adding a feed republishes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from producers.errors import FeedManagementError
from tumen.config import ProducerSettings
from tumen.profile import FeedSpec
from tumen.storage import Feed, session_factory

__all__ = ["NewFeed", "add_feed", "list_feeds", "remove_feed", "sync_profile", "validate_url"]

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True, slots=True)
class NewFeed:
    url: str
    name: str | None = None
    interval_s: int | None = None
    full_text: bool = False
    origin: str = "cli"


def validate_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 4096:
        raise FeedManagementError("bad_url", f"not an http(s) feed URL: {url[:200]!r}")
    return url


def _base_name(url: str, title: str | None) -> str:
    if title and (name := _NOT_NAME.sub("-", title.strip()).strip("-.").lower()[:60]):
        return name
    host = (urlsplit(url).hostname or "feed").removeprefix("www.")
    return _NOT_NAME.sub("-", host)[:60] or "feed"


def _free_name(session: Session, base: str) -> str:
    taken = set(session.scalars(select(Feed.name).where(Feed.name.like(f"{base}%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _check(new: NewFeed, settings: ProducerSettings) -> None:
    if new.name is not None and not _NAME.match(new.name):
        raise FeedManagementError("bad_name", "names are 1-200 of A-Z a-z 0-9 _ . : -")
    if new.interval_s is not None and not (
        settings.min_interval_s <= new.interval_s <= settings.max_interval_s
    ):
        raise FeedManagementError(
            "bad_interval",
            f"interval must be {settings.min_interval_s}..{settings.max_interval_s} s",
        )


def add_feed(
    engine: Engine,
    new: NewFeed,
    *,
    settings: ProducerSettings,
    now: datetime,
    title: str | None = None,
) -> tuple[Feed, bool]:
    """Add a feed; returns (row, created). An existing URL is returned unchanged (or revived)."""
    url = validate_url(new.url)
    _check(new, settings)
    with session_factory(engine).begin() as session:
        existing = session.scalars(select(Feed).where(Feed.url == url)).first()
        if existing is not None:
            if existing.removed_at is None:
                return existing, False
            existing.removed_at, existing.enabled, existing.next_poll_at = None, True, None
            return existing, True
        name = new.name or _free_name(session, _base_name(url, title))
        if session.scalars(select(Feed.id).where(Feed.name == name)).first() is not None:
            raise FeedManagementError("name_taken", f"a feed named {name!r} already exists")
        feed = Feed(
            name=name,
            url=url,
            enabled=True,
            origin=new.origin,
            interval_s=new.interval_s,
            full_text=new.full_text,
            consecutive_errors=0,
            items_seen=0,
            articles_published=0,
            created_at=now,
        )
        session.add(feed)
        session.flush()
        return feed, True


def sync_profile(engine: Engine, specs: Iterable[FeedSpec], *, now: datetime) -> list[str]:
    """Add the profile's feeds that the table has never had (tombstones count as had)."""
    added: list[str] = []
    with session_factory(engine).begin() as session:
        for spec in specs:
            clash = session.scalars(
                select(Feed.id).where(or_(Feed.url == spec.url, Feed.name == spec.name))
            ).first()
            if clash is not None:
                continue
            session.add(
                Feed(
                    name=spec.name,
                    url=spec.url,
                    enabled=True,
                    origin="profile",
                    interval_s=spec.interval_s,
                    full_text=spec.full_text,
                    consecutive_errors=0,
                    items_seen=0,
                    articles_published=0,
                    created_at=now,
                )
            )
            added.append(spec.name)
    return added


def list_feeds(engine: Engine) -> list[Feed]:
    with session_factory(engine)() as session:
        rows = list(
            session.scalars(select(Feed).where(Feed.removed_at.is_(None)).order_by(Feed.name))
        )
        session.expunge_all()
        return rows


def remove_feed(engine: Engine, ref: str, *, now: datetime) -> tuple[str, bool]:
    """Remove by name or URL: profile feeds become tombstones, others are deleted.

    Returns (name, tombstoned)."""
    with session_factory(engine).begin() as session:
        feed = session.scalars(
            select(Feed).where(or_(Feed.name == ref, Feed.url == ref), Feed.removed_at.is_(None))
        ).first()
        if feed is None:
            raise FeedManagementError("unknown_feed", f"no feed named or at {ref!r}")
        if feed.origin == "profile":
            feed.removed_at, feed.enabled = now, False
            return feed.name, True
        name = feed.name
        session.delete(feed)
        return name, False
