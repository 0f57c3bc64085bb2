"""The producer service: polls every enabled, due feed of the ``feeds`` table, round after round.

Entry points wired by the command line: :func:`build_service` (``tumen run``, ``tumen serve
producer``) and :func:`poll_once` (``tumen poll --once``). Both add the profile's feeds to the
table first, except those the table already has or had (a removed profile feed stays removed,
see :mod:`producers.catalog`).

Broker outages: a poll whose articles could not be published is *held* in memory with its
feed state uncommitted; while anything is held no new feed is fetched (nothing piles up), and
each turn retries the held polls first, with backoff up to ``producer.bus_retry_max_s``, saying
so in the log. When the broker is back everything held is published, then committed. If the
process dies meanwhile nothing is lost either: the feed state was never committed, so the next
start fetches and publishes those items again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TextIO

import httpx
from sqlalchemy import Engine

from producers.catalog import sync_profile
from producers.committer import Committer
from producers.fetcher import Fetcher, host_of
from producers.neardup import NearDuplicateIndex, max_distance
from producers.politeness import HostBlocks, HostLimiter
from producers.polling import PollRound
from producers.publisher import Publisher
from producers.safety import AddressGuard, Resolver
from producers.store import FeedState, FeedStore
from producers.summary import FeedReport, RoundSummary, format_table
from producers.workers import WorkerPool
from tumen.bus import Producer
from tumen.config import Settings
from tumen.metrics import Health, Metrics
from tumen.profile import Profile
from tumen.runtime import Runtime
from tumen.schemas import utcnow

__all__ = ["ProducerService", "RoundSummary", "build_service", "poll_once"]

log = logging.getLogger(__name__)

_MAX_SLEEP_S = 30.0  # feeds added with `tumen feeds add` are picked up at least this often


class _Borrowed(httpx.AsyncBaseTransport):
    """An injected transport outlives rounds: each round's client must not close it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


class _Backoff:
    def __init__(self, *, first_s: float, max_s: float) -> None:
        self._first, self._max, self._next = first_s, max_s, first_s

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._max)
        return delay

    def reset(self) -> None:
        self._next = self._first


class ProducerService:
    """Owns the producer it is given (``close`` closes it) and its worker processes."""

    def __init__(
        self,
        *,
        settings: Settings,
        profile: Profile,
        engine: Engine,
        producer: Producer,
        metrics: Metrics,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        ps = settings.producer
        self._settings = settings
        self._profile = profile
        self._engine = engine
        self._producer = producer
        self._metrics = metrics
        self._resolver = resolver
        self._transport = _Borrowed(transport) if transport is not None else None
        self._rng = rng or random.Random()
        self._store = FeedStore(engine)
        self._pool = WorkerPool(
            workers=ps.parse_workers, timeout_s=ps.parse_timeout_s, memory_mb=ps.parse_memory_mb
        )
        self._cpu = ThreadPoolExecutor(max(1, ps.parse_workers), thread_name_prefix="tumen-parse")
        self._db = ThreadPoolExecutor(1, thread_name_prefix="tumen-commit")
        self._index = NearDuplicateIndex(max_distance=max_distance(ps.near_duplicate_threshold))
        publisher = Publisher(
            store=self._store,
            producer=producer,
            index=self._index,
            metrics=metrics,
            publish_timeout_s=ps.publish_timeout_s,
        )
        self._committer = Committer(
            store=self._store,
            publisher=publisher,
            index=self._index,
            metrics=metrics,
            window_s=ps.near_duplicate_window_s,
        )
        self._blocks = HostBlocks()
        self._synced = False
        self._stop: threading.Event | None = None
        self._health: Health | None = None
        self._closed = False

    # -- feeds ------------------------------------------------------------------------------
    def sync_profile_feeds(self) -> None:
        """Add the profile's feeds the table has never had; set the per-feed gauges."""
        added = sync_profile(self._engine, self._profile.feeds, now=utcnow())
        self._synced = True
        if added:
            log.info("added profile feeds %s", ",".join(added))
        for feed in self._store.active():
            self._init_series(feed)

    def _init_series(self, feed: FeedState) -> None:
        """Every per-feed series exists from the start (at 0, or at the stored timestamps), so
        rate()/increase() see the first event and a stale feed is visible after a restart."""
        m, name = self._metrics, feed.name
        for outcome in ("ok", "not_modified", "error"):
            m.feed_polls.labels(feed=name, outcome=outcome)
        for counter in (m.feed_items_seen, m.articles_published, m.articles_duplicate):
            counter.labels(feed=name)
        if feed.full_text:
            m.fulltext_failures.labels(feed=name)
        if feed.last_success_at:
            m.feed_last_success.labels(feed=name).set(feed.last_success_at.timestamp())
        if feed.last_new_item_at:
            m.feed_last_new_item.labels(feed=name).set(feed.last_new_item_at.timestamp())
        if feed.observed_interval_s:
            m.feed_expected_interval.labels(feed=name).set(feed.observed_interval_s)

    # -- one round --------------------------------------------------------------------------
    def run_round(self, now: datetime | None = None) -> RoundSummary:
        """Retry held commits, then poll every due feed once (unless the broker is still down)."""
        now = now or utcnow()
        summary = RoundSummary(started_at=now)
        c = self._committer
        if c.held:
            summary.feeds.extend(self._db.submit(c.retry_held).result())
        if not c.bus_down:
            self._db.submit(c.refresh_index, now).result()
            feeds = [f for f in self._store.due(now) if f.id not in c.held]
            for feed in feeds:
                self._init_series(feed)  # feeds added while running get theirs too
            if feeds:
                summary.feeds.extend(asyncio.run(self._poll(feeds, now)))
        summary.bus_unavailable = c.bus_down
        summary.bus_error = c.bus_error if c.bus_down else None
        return summary

    async def _poll(self, feeds: Sequence[FeedState], now: datetime) -> list[FeedReport]:
        ps = self._settings.producer
        guard = AddressGuard(
            allow_private=self._settings.allow_private_addresses, resolver=self._resolver
        )
        limiter = HostLimiter(per_host=ps.per_host_concurrency, spacing_s=ps.per_host_spacing_s)
        async with Fetcher(
            settings=ps, guard=guard, limiter=limiter, transport=self._transport
        ) as fetcher:
            rnd = PollRound(
                settings=ps,
                fetcher=fetcher,
                pool=self._pool,
                cpu=self._cpu,
                db=self._db,
                store=self._store,
                metrics=self._metrics,
                blocks=self._blocks,
                rng=self._rng,
                now=now,
                commit=self._committer.commit,
                skip=self._skip,
            )
            try:
                await self._supervise([asyncio.create_task(rnd.poll(f)) for f in feeds])
            finally:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._db, self._committer.flush_states)
        return rnd.reports

    async def _supervise(self, tasks: list[asyncio.Task[None]]) -> None:
        """Beat the health check while the round runs; on stop, cancel what has not finished."""
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending:
            _done, pending = await asyncio.wait(pending, timeout=1.0)
            if self._health is not None:
                self._health.beat()
            if pending and self._stop is not None and self._stop.is_set():
                for task in pending:
                    task.cancel()  # uncommitted feeds stay due: the next start polls them
                await asyncio.gather(*pending, return_exceptions=True)
                return

    def _skip(self) -> bool:
        return self._committer.bus_down or (self._stop is not None and self._stop.is_set())

    # -- the loop ---------------------------------------------------------------------------
    def run_forever(self, stop: threading.Event, health: Health) -> None:
        """Round after round until ``stop`` is set; no feed error and no outage ends it."""
        self._stop, self._health = stop, health
        retry = _Backoff(first_s=1.0, max_s=60.0)
        bus = _Backoff(first_s=1.0, max_s=self._settings.producer.bus_retry_max_s)
        try:
            while not stop.is_set():
                health.beat()
                stop.wait(self._turn(retry, bus))
        finally:
            self.close()

    def _turn(self, retry: _Backoff, bus: _Backoff) -> float:
        try:
            if not self._synced:
                self.sync_profile_feeds()
            summary = self.run_round()
            wait = self._until_next_due()
        except Exception as exc:  # the database is down, or a bug: keep trying
            delay = retry.next()
            log.error(
                "producer round failed, retrying in %.0f s: %s: %s", delay, type(exc).__name__, exc
            )
            return delay
        retry.reset()
        if summary.bus_unavailable:
            delay = bus.next()
            log.warning(
                "broker unavailable: %d feed(s) polled and held, not committed; "
                "retrying in %.0f s (%s)",
                len(self._committer.held),
                delay,
                summary.bus_error,
            )
            return delay
        bus.reset()
        return wait

    def _until_next_due(self) -> float:
        now = utcnow()
        due = [
            max(f.next_poll_at or now, self._blocks.blocked_until(host_of(f.url), now) or now)
            for f in self._store.active()
        ]
        wait = (min(due) - now).total_seconds() if due else _MAX_SLEEP_S
        return min(max(wait, 1.0), _MAX_SLEEP_S)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._db.shutdown(wait=True)
        self._cpu.shutdown(wait=True, cancel_futures=True)
        self._pool.close()
        self._producer.close()


def build_service(rt: Runtime) -> ProducerService:
    return ProducerService(
        settings=rt.settings,
        profile=rt.profile,
        engine=rt.engine(),
        producer=rt.bus().producer(),
        metrics=rt.metrics,
    )


def poll_once(rt: Runtime, out: TextIO) -> int:
    """``tumen poll --once``: one round over the due feeds and a summary table."""
    service = build_service(rt)
    try:
        service.sync_profile_feeds()
        summary = service.run_round()
    finally:
        service.close()
    format_table(summary, out)
    if summary.bus_unavailable:
        out.write(
            "broker unavailable: the held feeds were not committed and will be polled again\n"
        )
        return 1
    return 0
