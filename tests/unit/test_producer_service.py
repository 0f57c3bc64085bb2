"""The service over the local feed server and SQLite, with a recording bus producer: dedup across
restarts and feeds, tombstones, near-duplicates, conditional GET, scheduling, broker outages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from producers.catalog import NewFeed, add_feed
from producers.service import ProducerService
from tests.support.feedserver import (
    FeedServer,
    RecordingProducer,
    loopback_resolver,
    make_profile,
    make_settings,
    rss,
)
from tests.unit.test_producer_neardup import OTHER, REWRITE, WIRE
from tumen.config import DatabaseSettings, Settings
from tumen.metrics import Health, Metrics
from tumen.schemas import decode_article, utcnow
from tumen.storage import Feed, FeedItem, create_db_engine, upgrade

T0 = utcnow().replace(microsecond=0)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'tumen.db'}"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


class Harness:
    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings or make_settings()
        self.producer = RecordingProducer()
        self.metrics = Metrics()
        self.services: list[ProducerService] = []

    def service(self, **kwargs: Any) -> ProducerService:
        svc = ProducerService(
            settings=self.settings,
            profile=make_profile(),
            engine=self.engine,
            producer=self.producer,
            metrics=self.metrics,
            resolver=loopback_resolver,
            **kwargs,
        )
        self.services.append(svc)
        return svc

    def add(self, url: str, name: str, **kwargs: Any) -> None:
        add_feed(
            self.engine,
            NewFeed(url=url, name=name, **kwargs),
            settings=self.settings.producer,
            now=T0,
        )

    def feed(self, name: str) -> Feed:
        from sqlalchemy.orm import Session

        with Session(self.engine) as s:
            row = s.scalars(select(Feed).where(Feed.name == name)).one()
            s.expunge(row)
            return row

    def items(self) -> dict[str, FeedItem]:
        from sqlalchemy.orm import Session

        with Session(self.engine) as s:
            return {r.article_id: r for r in s.scalars(select(FeedItem))}

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0

    def close(self) -> None:
        for svc in self.services:
            svc.close()


@pytest.fixture
def h(engine: Engine) -> Iterator[Harness]:
    harness = Harness(engine)
    yield harness
    harness.close()


def stories(*ids: int, site: str = "news.example.com", **extra: str) -> bytes:
    return rss(
        [
            {
                "title": f"Story {i}",
                "link": f"https://{site}/story/{i}?utm_source=rss",
                "description": f"Text of story {i}.",
                **extra,
            }
            for i in ids
        ]
    )


def test_restart_republishes_nothing(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/a.xml", body=stories(1, 2, 3)), "a")
    first = h.service().run_round(T0)
    assert first.report("a").published == 3 and len(h.producer.sent) == 3  # type: ignore[union-attr]
    article = decode_article(h.producer.sent[0].value)
    assert h.producer.sent[0].key == article.id.encode()
    assert article.url == "https://news.example.com/story/1" and article.feed == "a"
    # A new process (new service, same database); the feed changes, so it is fetched in full.
    server.add("/a.xml", body=stories(1, 2, 3, 4))
    second = h.service().run_round(T0 + timedelta(hours=1))
    assert second.report("a").published == 1  # type: ignore[union-attr]
    assert [decode_article(m.value).title for m in h.producer.sent[3:]] == ["Story 4"]


def test_tombstones_an_item_that_leaves_and_returns_is_not_new(
    h: Harness, server: FeedServer
) -> None:
    url = server.add("/a.xml", body=stories(1, 2, 3))
    h.add(url, "a")
    svc = h.service()
    svc.run_round(T0)
    server.add("/a.xml", body=stories(2, 3))
    svc.run_round(T0 + timedelta(hours=1))
    server.add("/a.xml", body=stories(1, 2, 3))
    assert svc.run_round(T0 + timedelta(hours=2)).published == 0
    assert len(h.producer.sent) == 3


def test_two_feeds_one_story_is_one_article(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/a.xml", body=stories(1, 2)), "a")
    h.add(server.add("/b.xml", body=stories(2, 3)), "b")
    svc = h.service()
    summary = svc.run_round(T0)
    assert sorted(decode_article(m.value).title for m in h.producer.sent) == [
        "Story 1",
        "Story 2",
        "Story 3",
    ]
    assert summary.published == 3
    dups = h.metric("tumen_articles_duplicate_total", feed="a") + h.metric(
        "tumen_articles_duplicate_total", feed="b"
    )
    assert dups == 1
    server.add("/b.xml", body=stories(2, 3, 5))  # seen again: not counted again
    svc.run_round(T0 + timedelta(hours=1))
    assert h.metric("tumen_articles_duplicate_total", feed="b") <= 1
    assert len(h.producer.sent) == 4


def test_near_duplicate_wire_copy_is_recorded_not_published(h: Harness, server: FeedServer) -> None:
    wire = rss(
        [
            {
                "title": "North Korea ships shells to Russia by rail",
                "link": "https://tumenwire.example/a1",
                "description": WIRE,
            }
        ]
    )
    copy = rss(
        [
            {
                "title": "N. Korea sent 2,000 containers of shells to Russia: report",
                "link": "https://otheragency.example/b7",
                "description": REWRITE,
            },
            {
                "title": "Russia and North Korea agree on a second bridge",
                "link": "https://otheragency.example/b8",
                "description": OTHER,
            },
        ]
    )
    h.add(server.add("/wire.xml", body=wire), "wire")
    svc = h.service()
    svc.run_round(T0)
    h.add(server.add("/other.xml", body=copy), "other")
    summary = svc.run_round(T0 + timedelta(minutes=1))
    report = summary.report("other")
    assert report is not None and (report.new, report.published, report.duplicates) == (2, 1, 1)
    titles = [decode_article(m.value).title for m in h.producer.sent]
    assert titles == [
        "North Korea ships shells to Russia by rail",
        "Russia and North Korea agree on a second bridge",
    ]
    items = h.items()
    original = decode_article(h.producer.sent[0].value).id
    copies = [r for r in items.values() if r.duplicate_of]
    assert [c.duplicate_of for c in copies] == [original]
    assert h.metric("tumen_articles_duplicate_total", feed="other") == 1


def test_near_duplicates_survive_a_restart(h: Harness, server: FeedServer) -> None:
    h.add(
        server.add(
            "/wire.xml",
            body=rss(
                [
                    {
                        "title": "Shells by rail",
                        "description": WIRE,
                        "link": "https://tumenwire.example/a1",
                    }
                ]
            ),
        ),
        "wire",
    )
    h.service().run_round(T0)
    h.add(
        server.add(
            "/other.xml",
            body=rss(
                [{"title": "Shells", "description": REWRITE, "link": "https://other.example/b"}]
            ),
        ),
        "other",
    )
    assert h.service().run_round(T0 + timedelta(minutes=5)).published == 0


def test_conditional_get_commits_the_etag_and_304_parses_nothing(
    h: Harness, server: FeedServer
) -> None:
    h.add(server.add("/a.xml", body=stories(1), etag='"e1"'), "a")
    svc = h.service()
    svc.run_round(T0)
    assert h.feed("a").etag == '"e1"'
    summary = svc.run_round(T0 + timedelta(hours=1))
    assert summary.report("a").outcome == "not_modified"  # type: ignore[union-attr]
    assert server.hits_for("/a.xml")[1].headers["if-none-match"] == '"e1"'
    assert h.metric("tumen_feed_polls_total", feed="a", outcome="not_modified") == 1
    assert h.feed("a").last_success_at is not None


def test_interval_adapts_to_the_feed(h: Harness, server: FeedServer) -> None:
    hourly = [
        {
            "title": f"s{i}",
            "link": f"https://x.example/{i}",
            "pubDate": (T0 - timedelta(hours=i)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        for i in range(24)
    ]
    h.add(server.add("/hourly.xml", body=rss(hourly)), "hourly")
    h.add(server.add("/ttl.xml", body=rss(hourly, channel="<ttl>240</ttl>")), "ttl")
    h.add(server.add("/fixed.xml", body=rss(hourly)), "fixed", interval_s=600)
    h.service().run_round(T0)
    hourly_feed = h.feed("hourly")
    assert hourly_feed.observed_interval_s == pytest.approx(23 * 3600 / 24, rel=0.01)
    assert _delay(hourly_feed) == pytest.approx(23 * 3600 / 48, rel=0.01)  # half the cadence
    assert _delay(h.feed("ttl")) == 4 * 3600  # the feed asks for 4 h between polls
    assert _delay(h.feed("fixed")) == 600
    assert h.metric("tumen_feed_expected_interval_seconds", feed="hourly") == pytest.approx(3450)


def _delay(feed: Feed) -> float:
    assert feed.next_poll_at is not None and feed.last_polled_at is not None
    return (feed.next_poll_at - feed.last_polled_at).total_seconds()


def test_backoff_grows_caps_and_keeps_polling(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/broken.xml", status=500, body=b"oops"), "broken")
    svc = h.service()
    now, delays = T0, []
    for _ in range(12):
        report = svc.run_round(now).report("broken")
        assert report is not None and report.outcome == "error" and report.reason == "http_500"
        feed = h.feed("broken")
        delays.append(_delay(feed))
        now = feed.next_poll_at.replace(tzinfo=now.tzinfo)  # type: ignore[union-attr]
    assert h.feed("broken").consecutive_errors == 12
    assert delays == sorted(delays) and delays[-1] == 6 * 3600  # capped, never given up
    assert len(server.hits_for("/broken.xml")) == 12
    server.add("/broken.xml", body=stories(1))
    assert svc.run_round(now).report("broken").outcome == "ok"  # type: ignore[union-attr]
    assert h.feed("broken").consecutive_errors == 0
    assert h.metric("tumen_feed_poll_errors_total", feed="broken", reason="http_500") == 12


def test_retry_after_defers_the_feed_and_its_host(h: Harness, server: FeedServer) -> None:
    server.add("/busy.xml", status=429, headers={"Retry-After": "600"})
    server.add("/calm.xml", body=stories(1))
    h.add(server.url("/busy.xml", host="site.test"), "busy")
    h.add(server.url("/calm.xml", host="site.test"), "calm", interval_s=60)
    svc = h.service()
    svc.run_round(T0)
    busy = h.feed("busy")
    assert _delay(busy) >= 600 and busy.retry_after_until is not None
    later = svc.run_round(T0 + timedelta(seconds=120))
    assert later.report("calm").outcome == "deferred"  # type: ignore[union-attr]
    assert later.report("busy") is None
    after = svc.run_round(T0 + timedelta(seconds=700))
    assert after.report("calm").outcome == "ok"  # type: ignore[union-attr]


def test_broker_down_holds_the_poll_and_publishes_it_later(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/a.xml", body=stories(1, 2), etag='"e1"'), "a")
    h.add(server.add("/b.xml", status=404), "b")
    svc = h.service()
    h.producer.down = True
    summary = svc.run_round(T0)
    assert summary.bus_unavailable and summary.report("a").outcome == "held"  # type: ignore[union-attr]
    assert summary.report("b").outcome == "error"  # type: ignore[union-attr]  (committed anyway)
    assert h.feed("a").etag is None and h.items() == {}  # nothing committed for the held feed
    again = svc.run_round(T0 + timedelta(seconds=5))
    assert again.bus_unavailable and len(server.hits_for("/a.xml")) == 1  # no fetch meanwhile
    h.producer.down = False
    recovered = svc.run_round(T0 + timedelta(seconds=10))
    assert not recovered.bus_unavailable and recovered.published == 2
    assert h.feed("a").etag == '"e1"' and len(h.items()) == 2


def test_a_crash_before_commit_republishes(h: Harness, server: FeedServer) -> None:
    """The process dies after the broker acked and before the commit: the next start
    publishes the same items again (at least once), and after that never again."""
    h.add(server.add("/a.xml", body=stories(1, 2), etag='"e1"'), "a")

    def crash() -> None:
        raise SystemExit("killed between publish and commit")

    h.producer.after_send = crash
    with pytest.raises(SystemExit):
        h.service().run_round(T0)
    assert len(h.producer.sent) == 2 and h.items() == {} and h.feed("a").etag is None
    h.producer.after_send = None
    h.service().run_round(T0 + timedelta(seconds=1))
    assert [m.key for m in h.producer.sent[2:]] == [m.key for m in h.producer.sent[:2]]
    h.service().run_round(T0 + timedelta(hours=1))
    assert len(h.producer.sent) == 4


def test_one_bad_feed_does_not_hurt_the_others(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/good.xml", body=stories(1)), "good")
    h.add(
        server.add(
            "/html.xml", body=b"<html><body>no feed</body></html>", content_type="text/html"
        ),
        "html",
    )
    h.add(
        server.add(
            "/laughs.xml", body=b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "a">]><rss>&a;</rss>'
        ),
        "laughs",
    )
    h.add("http://127.0.0.1:1/refused.xml", "refused")
    summary = h.service().run_round(T0)
    reasons = {r.feed: r.reason for r in summary.feeds}
    assert reasons == {
        "good": None,
        "html": "not_a_feed",
        "laughs": "entity_declaration",
        "refused": "connect",
    }
    assert summary.published == 1


def test_full_text_and_its_fallback(h: Harness, server: FeedServer) -> None:
    paragraph = "<p>" + " ".join(["The freight trains crossed the bridge at night."] * 12) + "</p>"
    article = f"<article><h1>Shells</h1>{paragraph * 3}</article>"
    page = f"<html><body><nav>menu</nav>{article}</body></html>"
    server.add("/article/1", body=page.encode(), content_type="text/html; charset=utf-8")
    feed = rss(
        [
            {"title": "Shells", "link": server.url("/article/1"), "description": "teaser"},
            {"title": "Gone", "link": server.url("/article/404"), "description": "kept"},
        ]
    )
    h.add(server.add("/full.xml", body=feed), "full", full_text=True)
    h.service().run_round(T0)
    got = {decode_article(m.value).title: decode_article(m.value) for m in h.producer.sent}
    assert "The freight trains crossed the bridge at night." in got["Shells"].content
    assert got["Shells"].summary == "teaser"
    assert got["Gone"].content == "" and got["Gone"].summary == "kept"
    assert h.metric("tumen_fulltext_failures_total", feed="full") == 1


def test_message_headers_carry_the_original_date(h: Harness, server: FeedServer) -> None:
    body = rss([{"title": "t", "link": "https://x.example/1", "pubDate": "yesterday-ish"}])
    h.add(server.add("/a.xml", body=body), "a")
    h.service().run_round(T0)
    message = h.producer.sent[0]
    assert dict(message.headers) == {
        "tumen-date-source": b"unparseable",
        "tumen-published-raw": b"yesterday-ish",
    }
    assert decode_article(message.value).published_at == T0
    assert next(iter(h.items().values())).published_raw == "yesterday-ish"


def test_metrics_and_feed_counters(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/a.xml", body=stories(1, 2)), "a")
    h.service().run_round(T0)
    assert h.metric("tumen_feed_polls_total", feed="a", outcome="ok") == 1
    assert h.metric("tumen_articles_published_total", feed="a") == 2
    assert h.metric("tumen_feed_items_seen_total", feed="a") == 2
    assert h.metric("tumen_feed_last_success_timestamp_seconds", feed="a") == T0.timestamp()
    assert h.metric("tumen_feed_last_new_item_timestamp_seconds", feed="a") == T0.timestamp()
    feed = h.feed("a")
    assert (feed.items_seen, feed.articles_published) == (2, 2)


def test_run_forever_survives_errors_and_stops_cleanly(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/a.xml", body=stories(1)), "a")
    h.add(server.add("/bad.xml", status=500), "bad")
    svc = h.service()
    stop, health = threading.Event(), Health()
    thread = threading.Thread(target=svc.run_forever, args=(stop, health))
    thread.start()
    deadline = datetime.now().timestamp() + 20
    while not h.producer.sent and datetime.now().timestamp() < deadline:
        stop.wait(0.1)
    stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive() and health.alive
    assert len(h.producer.sent) == 1 and h.producer.closed
    assert h.feed("bad").consecutive_errors == 1


def test_round_summary_table(h: Harness, server: FeedServer) -> None:
    import io

    from producers.summary import format_table

    h.add(server.add("/a.xml", body=stories(1)), "a")
    out = io.StringIO()
    format_table(h.service().run_round(T0), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["feed", "outcome", "items", "new"]
    assert lines[1].split()[:5] == ["a", "ok", "1", "1", "1"]
    assert "1 article(s) published" in lines[-1]
    json.dumps(lines)  # printable


def test_an_unexpected_commit_failure_backs_off_and_commits_no_items(
    h: Harness, server: FeedServer
) -> None:
    h.add(server.add("/a.xml", body=stories(1)), "a")

    def broken() -> None:
        raise RuntimeError("a bug in the publishing path")

    h.producer.after_send = broken
    report = h.service().run_round(T0).report("a")
    assert report is not None and (report.outcome, report.reason) == ("error", "internal")
    feed = h.feed("a")
    assert feed.consecutive_errors == 1 and _delay(feed) >= 900  # not retried hot
    assert h.items() == {}  # nothing recorded as seen: the item goes out on the next poll
    assert h.metric("tumen_feed_poll_errors_total", feed="a", reason="internal") == 1


def test_loopback_feed_refused_unless_allowed(engine: Engine, server: FeedServer) -> None:
    strict = Harness(engine, make_settings().model_copy(update={"allow_private_addresses": False}))
    try:
        strict.add(server.add("/a.xml", body=stories(1)), "a")
        report = strict.service().run_round(T0).report("a")
        assert report is not None and report.reason == "address_refused"
        assert server.hits == [] and strict.producer.sent == []
    finally:
        strict.close()


def test_series_exist_from_the_start(h: Harness, server: FeedServer) -> None:
    h.add(server.add("/a.xml", body=stories(1)), "a")
    h.service().sync_profile_feeds()
    names = {
        s.name
        for metric in h.metrics.registry.collect()
        for s in metric.samples
        if s.labels.get("feed") == "a"
    }
    assert {
        "tumen_feed_polls_total",
        "tumen_articles_published_total",
        "tumen_articles_duplicate_total",
        "tumen_feed_items_seen_total",
    } <= names
    assert h.metric("tumen_feed_polls_total", feed="a", outcome="error") == 0
