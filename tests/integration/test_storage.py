"""Migrations on an empty SQLite and PostgreSQL database; idempotency constraints hold on both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from tumen.config import DatabaseSettings
from tumen.storage import Alert, Article, Event, Feed, create_db_engine, session_factory, upgrade

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _article(aid: str) -> Article:
    return Article(
        id=aid,
        feed="f",
        url=f"https://x/{aid}",
        title="",
        summary="",
        content="",
        fetched_at=NOW,
        stored_at=NOW,
        content_hash="",
        event_count=0,
        superseded_versions=0,
    )


def _event(aid: str) -> Event:
    return Event(
        article_id=aid,
        model_version="m1",
        type="arms_transfer",
        confidence=0.9,
        evidence="e",
        start=0,
        end=1,
        actors=["Russia"],
        items=[],
        quantities=[],
        locations=[],
        occurred_at=NOW,
    )


def test_upgrade_empty_database_twice(db_url: str) -> None:
    engine = create_db_engine(DatabaseSettings(url=db_url))
    upgrade(engine)
    upgrade(engine)  # already at head: a no-op
    names = set(inspect(engine).get_table_names())
    assert {"feeds", "articles", "events", "alerts", "feed_items"} <= names
    engine.dispose()


def test_natural_keys_reject_duplicates(db_url: str) -> None:
    engine = create_db_engine(DatabaseSettings(url=db_url))
    upgrade(engine)
    make = session_factory(engine)
    with make.begin() as s:
        s.add(_article("a1"))
        s.add(
            Feed(
                name="f",
                url="https://x/feed",
                enabled=True,
                origin="cli",
                full_text=False,
                consecutive_errors=0,
                items_seen=0,
                articles_published=0,
                created_at=NOW,
            )
        )
    with make.begin() as s:
        s.add(_event("a1"))
    for dup in (_event("a1"), _article("a1")):
        with pytest.raises(IntegrityError), make.begin() as s:
            s.add(dup)
    alert = {
        "dedup_key": "k",
        "rule": "r",
        "severity": "critical",
        "status": "open",
        "article_id": "a1",
        "event": {"type": "x"},
        "reason": "",
        "sources": 1,
        "source_articles": [],
        "notifications": 1,
        "fired_at": NOW,
        "last_notified_at": NOW,
        "updated_at": NOW,
    }
    with make.begin() as s:
        s.add(Alert(**alert))
    with pytest.raises(IntegrityError), make.begin() as s:
        s.add(Alert(**alert))
    with make() as s:
        assert s.scalar(select(Event.actors)) == ["Russia"]
    engine.dispose()
