"""Politeness towards the sites we poll: per-host concurrency and spacing, and Retry-After.

Hosts are keyed by the URL's host name (as Miniflux does), so two feeds on one site share the
limits, and full-text page fetches count against the site like feed fetches do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["HostBlocks", "HostLimiter", "parse_retry_after"]


@dataclass
class _Host:
    slots: asyncio.Semaphore
    next_start: float = 0.0


@dataclass
class HostLimiter:
    """At most ``per_host`` requests in flight per host, starts at least ``spacing_s`` apart.

    Lives inside one event loop (one polling round)."""

    per_host: int
    spacing_s: float
    clock: Callable[[], float] = time.monotonic
    _hosts: dict[str, _Host] = field(default_factory=dict)

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(asyncio.Semaphore(self.per_host))
        return state

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's concurrent slots; call :meth:`wait_turn` just before sending."""
        async with self._host(host).slots:
            yield

    async def wait_turn(self, host: str) -> None:
        """Sleep until ``spacing_s`` after the previous start on this host."""
        state = self._host(host)
        # Reserve the start time before sleeping, so concurrent waiters get distinct times.
        start_at = max(self.clock(), state.next_start)
        state.next_start = start_at + self.spacing_s
        delay = start_at - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class HostBlocks:
    """Hosts that answered 429/503 with Retry-After: no request to them until the time given.

    Kept in memory for the life of the service; the feed's own Retry-After is persisted."""

    _until: dict[str, datetime] = field(default_factory=dict)

    def block(self, host: str, until: datetime) -> None:
        if until > self._until.get(host, until - timedelta(seconds=1)):
            self._until[host] = until

    def blocked_until(self, host: str, now: datetime) -> datetime | None:
        until = self._until.get(host)
        if until is None:
            return None
        if until <= now:
            del self._until[host]
            return None
        return until


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if invalid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # "-0000": the zone is unknown; HTTP dates are GMT
    return max(0.0, (when - now).total_seconds())
