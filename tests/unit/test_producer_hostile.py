"""Hostile feeds in one round, parsed in a worker process: each is contained (bounded time),
counted as an error with its reason, and the good feed of the same round is published."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from producers.catalog import NewFeed, add_feed
from producers.service import ProducerService
from tests.support.feedserver import (
    FeedServer,
    RecordingProducer,
    gzip_bomb,
    loopback_resolver,
    make_profile,
    make_settings,
    rss,
)
from tumen.config import DatabaseSettings
from tumen.metrics import Metrics
from tumen.schemas import decode_article, utcnow
from tumen.storage import create_db_engine, upgrade

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
CAP = 2 * 1024 * 1024
HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'tumen.db'}"))
    upgrade(engine)
    yield engine
    engine.dispose()


def hostile_routes(server: FeedServer) -> dict[str, str]:
    """name -> expected error reason (None: accepted)."""
    server.add("/good.xml", body=rss([{"title": "Good news", "link": "https://ok.example/1"}]))
    for name in ("billion_laughs", "xxe_file", "xxe_parameter_entity", "quadratic_blowup"):
        server.add(f"/{name}.xml", body=(CORPUS / f"{name}.xml").read_bytes())
    server.add("/oversize.xml", body=HEAD + b"<item><title>x</title></item>" * 80_000)
    server.add("/bomb.xml", body=gzip_bomb(64 << 20), encoded_as="gzip")
    server.add("/loop-a.xml", status=302, location="/loop-b.xml")
    server.add("/loop-b.xml", status=302, location="/loop-a.xml")
    server.add("/drip.xml", body=HEAD + b" " * 200 + b"</channel></rss>", drip_s=0.05)
    server.add("/garbage.xml", body=random.Random(3).randbytes(500_000))
    huge = b"<description>" + b"news " * 300_000 + b"</description>"  # a 1.5 MB field
    server.add(
        "/megafield.xml",
        body=HEAD + b"<item><title>Big</title><link>https://ok.example/"
        b"big</link>" + huge + b"</item></channel></rss>",
    )
    # Valid size, but sends feedparser's loose parser into minutes of work.
    server.add(
        "/tarpit.xml",
        body=HEAD
        + b"<item><description>"
        + b"<p>x<br>" * 200_000
        + b"</description></item></channel></rss>",
    )
    return {
        "good": "",
        "billion_laughs": "entity_declaration",
        "xxe_file": "entity_declaration",
        "xxe_parameter_entity": "entity_declaration",
        "quadratic_blowup": "entity_declaration",
        "oversize": "body_too_large",
        "bomb": "decompressed_too_large",
        "loop-a": "redirect_loop",
        "drip": "deadline",
        "garbage": "binary",
        "megafield": "",
        "tarpit": "parse_timeout",
    }


def test_hostile_feeds_are_contained(engine: Engine) -> None:
    settings = make_settings(
        parse_workers=1,
        parse_timeout_s=4.0,
        parse_memory_mb=768,
        max_body_bytes=CAP,
        deadline_s=2.0,
        read_timeout_s=2.0,
    )
    producer = RecordingProducer()
    service = ProducerService(
        settings=settings,
        profile=make_profile(),
        engine=engine,
        producer=producer,
        metrics=Metrics(),
        resolver=loopback_resolver,
    )
    with FeedServer() as server:
        expected = hostile_routes(server)
        for name in expected:
            add_feed(
                engine,
                NewFeed(url=server.url(f"/{name}.xml"), name=name),
                settings=settings.producer,
                now=utcnow(),
            )
        started = time.monotonic()
        try:
            summary = service.run_round()
        finally:
            service.close()
        elapsed = time.monotonic() - started
    got = {r.feed: r.reason or "" for r in summary.feeds}
    assert got == expected
    assert elapsed < 30, f"a hostile feed held the round for {elapsed:.0f} s"
    articles = {decode_article(m.value).title: decode_article(m.value) for m in producer.sent}
    assert set(articles) == {"Good news", "Big"}
    assert len(articles["Big"].summary) <= 20_000
    assert all("root:" not in m.value.decode() for m in producer.sent)  # no /etc/passwd
