"""The producer's SQL on both databases (SQLite and the real PostgreSQL): dedup state, sightings,
128-bit fingerprints in two BIGINT halves, tombstones of profile feeds, batched state commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from producers.catalog import NewFeed, add_feed, remove_feed, sync_profile
from producers.service import ProducerService
from tests.support.feedserver import (
    FeedServer,
    RecordingProducer,
    loopback_resolver,
    make_profile,
    make_settings,
    rss,
)
from tests.unit.test_producer_neardup import REWRITE, WIRE
from tumen.config import DatabaseSettings
from tumen.metrics import Metrics
from tumen.profile import FeedSpec
from tumen.schemas import decode_article, utcnow
from tumen.storage import Feed, FeedItem, create_db_engine, upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(DatabaseSettings(url=db_url))
    upgrade(engine)
    yield engine
    engine.dispose()


def test_dedup_state_round_trips(engine: Engine) -> None:
    settings = make_settings()
    producer = RecordingProducer()
    now = utcnow()
    with FeedServer() as server:
        wire = [{"title": "Shells by rail", "link": "https://wire.example/1", "description": WIRE}]
        copy = [
            {"title": "Shells", "link": "https://other.example/9", "description": REWRITE},
            {"title": "Shells by rail", "link": "https://wire.example/1?utm_source=x"},
        ]
        # One feed per round, wire first: within a round feeds are polled concurrently, and
        # which copy of a story is "the original" must not depend on that race here.
        # The second service is a restart: it must rebuild its dedup state from SQL.
        for offset, (name, body) in enumerate((("wire", rss(wire)), ("copy", rss(copy)))):
            add_feed(
                engine,
                NewFeed(url=server.add(f"/{name}.xml", body=body, etag='"1"'), name=name),
                settings=settings.producer,
                now=now,
            )
            service = ProducerService(
                settings=settings,
                profile=make_profile(),
                engine=engine,
                producer=producer,
                metrics=Metrics(),
                resolver=loopback_resolver,
            )
            service.run_round(now + timedelta(hours=offset))
            service.close()
    assert [decode_article(m.value).title for m in producer.sent] == ["Shells by rail"]
    with Session(engine) as session:
        items = {i.url: i for i in session.scalars(select(FeedItem))}
        feeds = {f.name: f for f in session.scalars(select(Feed))}
    original, copy_row = items["https://wire.example/1"], items["https://other.example/9"]
    assert copy_row.duplicate_of == original.article_id
    assert original.simhash is not None and original.simhash_hi is not None
    assert feeds["wire"].etag == '"1"' and feeds["copy"].items_seen == 2
    assert feeds["copy"].articles_published == 0 and feeds["wire"].articles_published == 1


def test_profile_tombstones(engine: Engine) -> None:
    specs = [
        FeedSpec(name="one", url="https://one.example/feed"),
        FeedSpec(name="two", url="https://two.example/feed"),
    ]
    now = utcnow()
    assert sync_profile(engine, specs, now=now) == ["one", "two"]
    assert sync_profile(engine, specs, now=now) == []
    assert remove_feed(engine, "one", now=now) == ("one", True)
    assert sync_profile(engine, specs, now=now) == []  # not brought back
    feed, created = add_feed(
        engine, NewFeed(url="https://one.example/feed"), settings=make_settings().producer, now=now
    )
    assert created and feed.name == "one" and feed.removed_at is None
