"""When to poll a feed next: adaptive interval, server hints, backoff, Retry-After, jitter.

Interval of a feed that polled fine:
- the feed's own ``interval_s`` when one was configured (``tumen feeds add --interval``, profile);
- else half its observed publishing cadence (so a new item waits half a gap on average), where
  the cadence is the time span of the feed's dated items over the last week divided by their
  number (:func:`cadence_s`); a feed with no item in a week counts as one item a week;
- else ``producer.interval_s`` (15 min);
- never sooner than the feed asks: RSS ``<ttl>``, ``Cache-Control: max-age``, ``Expires``;
- bounded by ``producer.min_interval_s`` and ``producer.max_interval_s``.

After an error: ``max(interval, min(backoff_base_s * 2**(n-1), backoff_max_s))`` for the n-th
error in a row — errors never make polling faster, the backoff is capped (6 h) and polling never
stops. A 429/503 with Retry-After waits at least that long (capped at a day).

Jitter only lengthens a delay (by up to ``producer.jitter``), so it never polls earlier than
the rules above or the server allow, and feeds added together drift apart.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from tumen.config import ProducerSettings

__all__ = ["cache_hint_s", "cadence_s", "error_delay_s", "jittered", "poll_interval_s"]

WEEK_S = 7 * 86400.0
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cadence_s(published: Iterable[datetime], *, now: datetime) -> float | None:
    """Seconds between items, from the dates the feed gave (None: no dated item at all)."""
    dates = sorted(published)
    if not dates:
        return None
    week_ago = now - timedelta(seconds=WEEK_S)
    recent = [d for d in dates if d >= week_ago]
    if not recent:
        return WEEK_S
    span = min(WEEK_S, (now - dates[0]).total_seconds())
    return max(60.0, span / len(recent))


def cache_hint_s(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """How long the server says the response stays fresh (Cache-Control, else Expires)."""
    cache_control = headers.get("cache-control", "")
    if "no-store" not in cache_control.lower() and (m := _MAX_AGE.search(cache_control)):
        return float(m.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return None  # "Expires: 0" and the like mean "already stale"
        if when.tzinfo is not None:
            return max(0.0, (when - now).total_seconds())
    return None


def poll_interval_s(
    settings: ProducerSettings,
    *,
    configured_s: int | None,
    cadence: float | None,
    hints: Iterable[float | None] = (),
) -> float:
    if configured_s:
        interval = float(configured_s)
    elif cadence is not None:
        interval = cadence / 2
    else:
        interval = float(settings.interval_s)
    for hint in hints:
        if hint:
            interval = max(interval, min(hint, float(settings.max_interval_s)))
    return float(min(max(interval, settings.min_interval_s), settings.max_interval_s))


def error_delay_s(
    settings: ProducerSettings,
    *,
    interval: float,
    consecutive_errors: int,
    retry_after_s: float | None = None,
) -> float:
    exponent = min(max(consecutive_errors - 1, 0), 30)
    backoff = min(settings.backoff_base_s * 2.0**exponent, settings.backoff_max_s)
    delay = max(interval, backoff)
    if retry_after_s is not None:
        cap = max(settings.backoff_max_s, float(settings.max_interval_s))
        delay = max(delay, min(retry_after_s, cap))
    return delay


def jittered(delay_s: float, *, fraction: float, rng: random.Random) -> float:
    return delay_s * (1.0 + rng.uniform(0.0, fraction))
