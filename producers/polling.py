"""One polling round: fetch and parse every due feed concurrently, then hand each to the committer.

Runs in its own event loop (``asyncio.run`` per round). Fetching is bounded by the fetcher's
global and per-host limits; parsing and extraction run in the worker pool through a thread
executor; commits go through a single-thread executor, one feed at a time, so dedup decisions
(exact and near-duplicate) never race each other.

A feed's error is its own: any exception while polling one feed becomes that feed's error
outcome with a reason and a backoff, and the other feeds of the round carry on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from producers.errors import FeedError, ProducerError, RetryLater
from producers.fetcher import PAGE_ACCEPT, Fetched, Fetcher, host_of
from producers.fulltext import Extracted, ExtractJob
from producers.parser import Item, ParsedFeed, ParseJob
from producers.politeness import HostBlocks
from producers.scheduler import cache_hint_s, cadence_s, error_delay_s, jittered, poll_interval_s
from producers.store import FeedState, FeedStore, FeedUpdate
from producers.summary import FeedReport
from producers.workers import WorkerPool
from tumen.config import ProducerSettings
from tumen.ids import content_hash
from tumen.metrics import Metrics

__all__ = ["PollRound", "Prepared"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass
class Prepared:
    """A finished poll waiting to be committed (or, while the broker is down, held)."""

    feed: FeedState
    items: list[Item]
    change: FeedUpdate
    fetched_at: datetime
    report: FeedReport
    success: bool
    cadence: float | None = None


@dataclass
class PollRound:
    settings: ProducerSettings
    fetcher: Fetcher
    pool: WorkerPool
    cpu: Executor
    db: Executor
    store: FeedStore
    metrics: Metrics
    blocks: HostBlocks
    rng: random.Random
    now: datetime
    commit: Callable[[Prepared], None]  # runs on the db executor
    skip: Callable[[], bool]  # true once the round should start nothing new (stop, broker down)
    reports: list[FeedReport] = field(default_factory=list)

    async def _run(self, executor: Executor, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    async def poll(self, feed: FeedState) -> None:
        if self.skip():
            return  # stays due; the next round takes it
        until = self.blocks.blocked_until(host_of(feed.url), self.now)
        if until is not None:
            self.reports.append(
                FeedReport(
                    feed.name,
                    "deferred",
                    next_poll_at=until,
                    detail="host asked us to wait (Retry-After)",
                )
            )
            return
        prepared = await self._attempt(feed)
        self.reports.append(prepared.report)
        try:
            await self._run(self.db, self.commit, prepared)
        except Exception as exc:  # e.g. an item the message schema refuses: nothing is published
            log.exception("commit failed feed=%s", feed.name)
            self.reports.remove(prepared.report)
            failed = self._failed(feed, _internal(exc), 0.0, count_poll=False)
            self.reports.append(failed.report)
            await self._run(self.db, self.commit, failed)  # backoff, so it is not retried hot

    async def _attempt(self, feed: FeedState) -> Prepared:
        started = time.monotonic()
        try:
            fetched, parsed = await self._fetch_parse(feed)
        except ProducerError as exc:
            return self._failed(feed, exc, time.monotonic() - started)
        except Exception as exc:  # a bug must cost one feed one poll, not the round
            log.exception("poll failed feed=%s", feed.name)
            return self._failed(feed, _internal(exc), time.monotonic() - started)
        return self._succeeded(feed, fetched, parsed, time.monotonic() - started)

    async def _fetch_parse(self, feed: FeedState) -> tuple[Fetched, ParsedFeed | None]:
        fetched = await self.fetcher.fetch(
            feed.url, etag=feed.etag, last_modified=feed.last_modified
        )
        if fetched.not_modified:
            return fetched, None  # 304: nothing to parse
        job = ParseJob(
            fetched.body, fetched.headers, fetched.url, self.now, self.settings.max_items_per_feed
        )
        parsed: ParsedFeed = await self._run(self.cpu, self.pool.run, "parse", job)
        if parsed.bozo:
            log.info("recovered feed=%s problem=%s", feed.name, parsed.bozo)
        if feed.full_text and parsed.items:
            parsed = replace(parsed, items=await self._full_text(feed, parsed.items))
        return fetched, parsed

    # -- full text ------------------------------------------------------------------------
    async def _full_text(self, feed: FeedState, items: list[Item]) -> list[Item]:
        here, known = await self._run(
            self.db, self.store.lookup, feed.id, [i.article_id for i in items]
        )
        todo = {i.article_id for i in items if i.url and i.article_id not in here | known}
        done = await asyncio.gather(
            *(self._extract(feed, i) if i.article_id in todo else _same(i) for i in items)
        )
        return list(done)

    async def _extract(self, feed: FeedState, item: Item) -> Item:
        try:
            page = await self.fetcher.fetch(item.url, accept=PAGE_ACCEPT)
            if page.not_modified or not page.body:
                raise FeedError("fulltext_empty", "empty page")
            job = ExtractJob(page.body, page.url, item.title)
            got: Extracted = await self._run(self.cpu, self.pool.run, "extract", job)
            if got.text is None:
                raise FeedError("fulltext_empty", "no article text found")
        except ProducerError as exc:
            self.metrics.fulltext_failures.labels(feed=feed.name).inc()
            log.info("full text failed feed=%s reason=%s; using the summary", feed.name, exc.reason)
            return item
        return replace(
            item,
            content=got.text,
            fingerprint=got.fingerprint,
            content_hash=content_hash(f"{item.title}\n{got.text}"),
        )

    # -- outcome and schedule -------------------------------------------------------------
    def _succeeded(
        self, feed: FeedState, fetched: Fetched, parsed: ParsedFeed | None, duration: float
    ) -> Prepared:
        outcome = "not_modified" if fetched.not_modified else "ok"
        self.metrics.feed_poll_duration.observe(duration)
        self.metrics.feed_polls.labels(feed=feed.name, outcome=outcome).inc()
        items = parsed.items if parsed else []
        cadence = feed.observed_interval_s
        if parsed is not None:
            dated = [i.published_at for i in items if i.date_source == "feed"]
            cadence = cadence_s(dated, now=self.now) if dated else cadence
        hints = (parsed.ttl_s if parsed else None, cache_hint_s(fetched.headers, now=self.now))
        interval = poll_interval_s(
            self.settings, configured_s=feed.interval_s, cadence=cadence, hints=hints
        )
        next_at = self.now + timedelta(seconds=self._jitter(interval))
        values: dict[str, Any] = {
            "last_polled_at": self.now,
            "last_success_at": self.now,
            "consecutive_errors": 0,
            "next_poll_at": next_at,
            "retry_after_until": None,
            "observed_interval_s": cadence,
            "etag": fetched.etag or (feed.etag if fetched.not_modified else None),
            "last_modified": fetched.last_modified
            or (feed.last_modified if fetched.not_modified else None),
        }
        report = FeedReport(
            feed.name, outcome, items=len(items), duration_s=duration, next_poll_at=next_at
        )
        return Prepared(feed, items, FeedUpdate(feed.id, values), self.now, report, True, cadence)

    def _failed(
        self, feed: FeedState, error: ProducerError, duration: float, *, count_poll: bool = True
    ) -> Prepared:
        if count_poll:
            self.metrics.feed_poll_duration.observe(duration)
            self.metrics.feed_polls.labels(feed=feed.name, outcome="error").inc()
        self.metrics.feed_poll_errors.labels(feed=feed.name, reason=error.reason).inc()
        errors = feed.consecutive_errors + 1
        wait = error.retry_after_s if isinstance(error, RetryLater) else None
        interval = poll_interval_s(
            self.settings, configured_s=feed.interval_s, cadence=feed.observed_interval_s
        )
        delay = error_delay_s(
            self.settings, interval=interval, consecutive_errors=errors, retry_after_s=wait
        )
        next_at = self.now + timedelta(seconds=self._jitter(delay))
        retry_until = self.now + timedelta(seconds=wait) if wait is not None else None
        if retry_until is not None and self.settings.respect_retry_after_for_host:
            self.blocks.block(host_of(feed.url), retry_until)
        log.warning(
            "poll failed feed=%s reason=%s errors_in_a_row=%d next_poll_in_s=%.0f detail=%s",
            feed.name,
            error.reason,
            errors,
            (next_at - self.now).total_seconds(),
            error.detail[:200],
        )
        values: dict[str, Any] = {
            "last_polled_at": self.now,
            "last_error": str(error)[:1000],
            "last_error_at": self.now,
            "consecutive_errors": errors,
            "next_poll_at": next_at,
            "retry_after_until": retry_until,
        }
        report = FeedReport(
            feed.name,
            "error",
            reason=error.reason,
            detail=error.detail[:300],
            duration_s=duration,
            next_poll_at=next_at,
        )
        return Prepared(feed, [], FeedUpdate(feed.id, values), self.now, report, False)

    def _jitter(self, delay: float) -> float:
        return jittered(delay, fraction=self.settings.jitter, rng=self.rng)


async def _same(item: Item) -> Item:
    return item


def _internal(exc: Exception) -> FeedError:
    return FeedError("internal", f"{type(exc).__name__}: {exc}"[:300])
