"""Adaptive intervals, server hints, capped backoff that never stops, Retry-After, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from producers.politeness import parse_retry_after
from producers.scheduler import (
    cache_hint_s,
    cadence_s,
    error_delay_s,
    jittered,
    poll_interval_s,
)
from tumen.config import ProducerSettings

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
S = ProducerSettings()  # 15 min default, 5 min .. 24 h, backoff 60 s .. 6 h


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def test_cadence_from_item_dates() -> None:
    assert cadence_s(hours_ago(*range(0, 48, 2)), now=NOW) == pytest.approx(46 * 3600 / 24)
    # one item in the last week out of a longer history: one item a week
    assert cadence_s(hours_ago(1, 200, 300), now=NOW) == pytest.approx(7 * 86400)
    assert cadence_s(hours_ago(200, 300), now=NOW) == 7 * 86400  # nothing for a week
    assert cadence_s([], now=NOW) is None


def test_interval_follows_the_feed_within_bounds() -> None:
    assert poll_interval_s(S, configured_s=None, cadence=None) == 900  # the default
    assert poll_interval_s(S, configured_s=None, cadence=3600) == 1800  # half the cadence
    assert poll_interval_s(S, configured_s=None, cadence=60) == S.min_interval_s
    assert poll_interval_s(S, configured_s=None, cadence=30 * 86400) == S.max_interval_s
    assert poll_interval_s(S, configured_s=600, cadence=60) == 600  # configured wins


def test_server_hints_only_ever_slow_us_down() -> None:
    assert poll_interval_s(S, configured_s=None, cadence=None, hints=[3600, None]) == 3600
    assert poll_interval_s(S, configured_s=None, cadence=None, hints=[60]) == 900
    assert poll_interval_s(S, configured_s=None, cadence=None, hints=[10**9]) == S.max_interval_s


def test_cache_headers() -> None:
    assert cache_hint_s({"cache-control": "public, max-age=1800"}, now=NOW) == 1800
    assert cache_hint_s({"cache-control": "no-store, max-age=1800"}, now=NOW) is None
    expires = (NOW + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert cache_hint_s({"expires": expires}, now=NOW) == 7200
    assert cache_hint_s({"expires": "0"}, now=NOW) is None
    assert cache_hint_s({}, now=NOW) is None


def test_backoff_grows_is_capped_and_never_stops() -> None:
    delays = [error_delay_s(S, interval=900, consecutive_errors=n) for n in range(1, 40)]
    assert delays[0] == 900  # an error never makes polling faster than normal
    assert delays == sorted(delays)
    assert delays[-1] == S.backoff_max_s == 6 * 3600  # capped at 6 h, still polling
    assert error_delay_s(S, interval=900, consecutive_errors=10**6) == 6 * 3600


def test_retry_after_is_honoured_and_capped() -> None:
    assert error_delay_s(S, interval=900, consecutive_errors=1, retry_after_s=7200) == 7200
    assert error_delay_s(S, interval=900, consecutive_errors=1, retry_after_s=10**9) == 86400


def test_retry_after_both_forms() -> None:
    assert parse_retry_after("120", now=NOW) == 120
    http_date = (NOW + timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(http_date, now=NOW) == 300
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0  # in the past
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None


def test_jitter_only_lengthens() -> None:
    rng = random.Random(1)
    values = [jittered(1000, fraction=0.1, rng=rng) for _ in range(1000)]
    assert min(values) >= 1000 and max(values) <= 1100 and max(values) - min(values) > 50
