"""The feed corpus (tests/fixtures/feeds/manifest.yaml) through the parser, and per-item rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from producers.errors import FeedError
from producers.parser import ParsedFeed, ParseJob, parse_feed
from tumen.ids import article_id

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
MANIFEST: list[dict[str, Any]] = yaml.safe_load((CORPUS / "manifest.yaml").read_text("utf-8"))
FEED_URL = "https://wire.example.org/feeds/main.xml"
FETCHED = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def parse(name: str, content_type: str = "application/rss+xml") -> ParsedFeed:
    job = ParseJob(
        (CORPUS / name).read_bytes(), {"content-type": content_type}, FEED_URL, FETCHED, 10_000
    )
    return parse_feed(job)


def test_every_file_is_in_the_manifest() -> None:
    listed = {entry["file"] for entry in MANIFEST}
    present = {p.name for p in CORPUS.iterdir() if p.name != "manifest.yaml"}
    assert listed == present


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_corpus_file(entry: dict[str, Any]) -> None:
    expect = entry["expect"]
    if expect["outcome"] == "error":
        with pytest.raises(FeedError) as info:
            parse(entry["file"], entry["content_type"])
        assert info.value.reason == expect["reason"]
        return
    feed = parse(entry["file"], entry["content_type"])
    assert len(feed.items) == expect["items"]
    for key, actual in (
        ("version", feed.version),
        ("encoding", feed.encoding),
        ("language", feed.language),
        ("bozo", bool(feed.bozo)),
    ):
        if key in expect:
            assert actual == expect[key], key
    if "titles" in expect:
        assert [i.title for i in feed.items] == expect["titles"]
    for item in feed.items:  # no item is ever dropped or left without identity and date
        assert item.article_id and item.published_at.tzinfo is not None


def test_rss20_items_are_normalised() -> None:
    first, no_date, bad_date, future, full = parse("rss20.xml").items
    # relative link resolved against the feed URL; tracking parameters and fragment dropped
    assert first.url == "https://wire.example.org/2024/03/relative-link?id=7"
    assert first.article_id == article_id("https://wire.example.org/2024/03/relative-link?id=7")
    # HTML stripped, script and style dropped with their content, entities decoded
    assert (
        first.summary
        == "Officials said 2,000 containers crossed the bridge.\nSecond paragraph été."
    )
    assert first.date_source == "feed" and first.published_at == datetime(
        2024, 3, 4, 1, 15, tzinfo=UTC
    )
    # missing, unparseable and future dates: the fetch time, the original text kept
    assert (no_date.published_at, no_date.date_source, no_date.published_raw) == (
        FETCHED,
        "missing",
        None,
    )
    assert (bad_date.published_at, bad_date.date_source) == (FETCHED, "unparseable")
    assert bad_date.published_raw == "the day after the summit"
    assert (future.published_at, future.date_source) == (FETCHED, "future")
    assert future.published_raw == "Sat, 01 Jan 2150 00:00:00 GMT"
    # content:encoded is the content, the description the summary
    assert full.summary == "Short teaser."
    assert full.content == "Heading\nThe full article text, with a link."
    assert all(i.language == "en-us" for i in (first, no_date, full))


def test_rss20_ttl_is_a_polling_hint() -> None:
    assert parse("rss20.xml").ttl_s == 3600


def test_atom10_base_language_and_markup() -> None:
    korean, english = parse("atom10.xml", "application/atom+xml").items
    assert korean.url == "https://wire.example.org/ko/2024/03/shells"  # xml:base
    assert korean.title == "북한, 러시아에 포탄 수송"  # escaped HTML title stripped
    assert korean.language == "ko" and english.language == "en"  # per-entry xml:lang
    assert english.content == "Content given as XHTML."
    assert english.published_at == datetime(2024, 3, 5, 12, 0, tzinfo=UTC)  # published, not updated


def test_item_without_link_or_guid_gets_a_stable_synthetic_id() -> None:
    first = parse("rss092.xml").items[0]
    assert first.url == "" and first.guid and first.guid.startswith("synthetic:")
    assert parse("rss092.xml").items[0].article_id == first.article_id


def test_megabyte_fields_are_capped() -> None:
    huge = "word " * 400_000  # 2 MB of text in one description
    doc = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>{'T' * 50_000}</title><link>https://x.example/1</link>"
        f"<description>{huge}</description></item></channel></rss>"
    ).encode()
    item = parse_feed(ParseJob(doc, {}, FEED_URL, FETCHED, 100)).items[0]
    assert len(item.title) <= 1_000 and len(item.summary) <= 20_000


def test_same_link_twice_in_one_feed_is_one_item() -> None:
    doc = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>https://x.example/1?utm_source=a</link></item>"
        b"<item><title>b</title><link>https://X.example/1</link></item></channel></rss>"
    )
    assert len(parse_feed(ParseJob(doc, {}, FEED_URL, FETCHED, 100)).items) == 1


def test_too_many_items_is_refused_before_parsing() -> None:
    doc = b'<rss version="2.0"><channel><title>t</title>' + b"<item/>" * 101 + b"</channel></rss>"
    with pytest.raises(FeedError) as info:
        parse_feed(ParseJob(doc, {}, FEED_URL, FETCHED, 100))
    assert info.value.reason == "too_many_items"


def test_binary_garbage_is_refused() -> None:
    import random

    garbage = random.Random(7).randbytes(200_000)
    with pytest.raises(FeedError) as info:
        parse_feed(ParseJob(garbage, {}, FEED_URL, FETCHED, 100))
    assert info.value.reason in ("binary", "not_a_feed")
    with pytest.raises(FeedError) as info:
        parse_feed(ParseJob(b"<" + garbage, {}, FEED_URL, FETCHED, 100))
    assert info.value.reason == "binary"


def test_overlong_link_falls_back_to_the_guid() -> None:
    link = "https://x.example/" + "a" * 5000
    doc = (
        f'<rss version="2.0"><channel><title>t</title><item><title>long</title>'
        f"<link>{link}</link><guid isPermaLink='false'>g-1</guid></item></channel></rss>"
    ).encode()
    item = parse_feed(ParseJob(doc, {}, FEED_URL, FETCHED, 100)).items[0]
    assert item.url == "" and item.article_id == article_id(None, "g-1")
