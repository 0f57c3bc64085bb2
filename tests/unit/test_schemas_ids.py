"""Message schemas round-trip; invalid messages raise SchemaError with a reason; ids are stable."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tumen.errors import SchemaError
from tumen.ids import article_id, canonical_url, content_hash
from tumen.schemas import (
    Alert,
    Article,
    Classified,
    Direction,
    Event,
    Quantity,
    decode_alert,
    decode_article,
    decode_classified,
    encode,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _article() -> Article:
    return Article(
        id=article_id("https://example.org/a?utm_source=x"),
        feed="demo",
        url="https://example.org/a",
        title="Trains cross the river",
        content="Body text.",
        fetched_at=NOW,
        published_at=None,
        language="en",
        content_hash=content_hash("Body text."),
    )


def _event() -> Event:
    return Event(
        type="trade_logistics",
        confidence=0.91,
        evidence="Four trains a day.",
        start=0,
        end=18,
        actors=["North Korea", "Russia"],
        direction=Direction(source="North Korea", target="Russia"),
        quantities=[Quantity(text="four", value=4, unit="trains")],
    )


def test_article_round_trip_uses_contract_field_names() -> None:
    art = _article()
    raw = encode(art)
    obj = json.loads(raw)
    assert obj["schema"] == "tumen.article/1"
    assert set(obj) >= {
        "id",
        "feed",
        "url",
        "title",
        "summary",
        "content",
        "published_at",
        "fetched_at",
        "language",
        "content_hash",
    }
    assert decode_article(raw) == art


def test_classified_and_alert_round_trip() -> None:
    msg = Classified(article=_article(), events=[_event()], model_version="m1", classified_at=NOW)
    raw = encode(msg)
    assert json.loads(raw)["events"][0]["direction"] == {"from": "North Korea", "to": "Russia"}
    assert decode_classified(raw) == msg
    alert = Alert(
        rule="r",
        severity="critical",
        dedup_key="k",
        fired_at=NOW,
        event=_event(),
        article_id="a" * 32,
    )
    assert decode_alert(encode(alert)) == alert


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe garbage", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"schema": "tumen.article/1"}', "id: Field required"),
        (
            b'{"schema": "tumen.article/2", "id": "x", "feed": "f", "url": "u", '
            b'"fetched_at": "2026-01-01T00:00:00Z"}',
            "schema",
        ),
        (b'{"id": "x", "feed": "f", "url": "u", "fetched_at": "yesterday"}', "fetched_at"),
    ],
)
def test_invalid_article_raises_schema_error_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode_article(raw)
    assert reason in info.value.reason


def test_event_confidence_bounds_enforced() -> None:
    bad = encode(
        Classified(article=_article(), events=[_event()], model_version="m", classified_at=NOW)
    ).replace(b'"confidence":0.91', b'"confidence":1.5')
    with pytest.raises(SchemaError, match="confidence"):
        decode_classified(bad)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://Example.ORG:443/News/1?utm_source=rss&b=2&a=1#top",
            "https://example.org/News/1?a=1&b=2",
        ),
        ("http://example.org:80", "http://example.org/"),
        ("https://example.org/x?fbclid=abc&gclid=1&id=5", "https://example.org/x?id=5"),
        ("https://example.org:8443/x", "https://example.org:8443/x"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_article_id_stable_across_tracking_and_case() -> None:
    a = article_id("https://example.org/story?id=7&utm_medium=feed")
    b = article_id("https://EXAMPLE.org/story?id=7#comments")
    assert a == b and len(a) == 32
    assert article_id("https://example.org/story?id=8") != a
    assert article_id(None, guid="tag:example.org,2026:1") == article_id(
        "", "tag:example.org,2026:1"
    )
    with pytest.raises(ValueError):
        article_id(None, None)


def test_content_hash_normalises_case_and_space() -> None:
    assert content_hash("Trains  CROSS\nthe river") == content_hash("trains cross the river")
