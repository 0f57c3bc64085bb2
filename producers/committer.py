"""Commits of finished polls, on the service's single commit thread.

- A poll with items goes through :class:`~producers.publisher.Publisher` (publish, wait for the
  broker's ack, then commit). If the broker is down the poll is *held* here, uncommitted, and
  the round starts nothing new; :meth:`Committer.retry_held` tries again on the next turn.
- A poll without items (304, an error, an empty feed) only changes its feed's row; those are
  batched, one transaction for up to :data:`STATE_BATCH`, since each commit costs an fsync.
- If the database fails after a publish, the poll is reported as a storage error: nothing was
  committed, so the next poll publishes the same items again (at least once, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from producers.neardup import NearDuplicateIndex
from producers.polling import Prepared
from producers.publisher import Publisher
from producers.store import FeedStore
from producers.summary import FeedReport
from tumen.errors import BusError, StorageError
from tumen.metrics import Metrics
from tumen.schemas import utcnow

__all__ = ["STATE_BATCH", "Committer"]

log = logging.getLogger(__name__)

STATE_BATCH = 100
_INDEX_REBUILD = timedelta(hours=6)


class Committer:
    """Not thread-safe on purpose: only the commit thread calls it."""

    def __init__(
        self,
        *,
        store: FeedStore,
        publisher: Publisher,
        index: NearDuplicateIndex,
        metrics: Metrics,
        window_s: int,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._index = index
        self._metrics = metrics
        self._window = timedelta(seconds=window_s)
        self.held: dict[int, Prepared] = {}
        self._states: list[Prepared] = []
        self.bus_down = False
        self.bus_error: str | None = None
        self._index_built: datetime | None = None
        self._index_synced: datetime | None = None

    def commit(self, p: Prepared) -> None:
        if not p.items:
            self._states.append(p)  # nothing to publish: no need to commit right away
            if len(self._states) >= STATE_BATCH:
                self.flush_states()
            return
        if self.bus_down:
            self._hold(p)
            return
        try:
            result = self._publisher.commit(p.feed, p.items, p.change, fetched_at=p.fetched_at)
        except BusError as exc:
            self.bus_down, self.bus_error = True, str(exc)
            self._metrics.bus_errors.labels(stage="producer").inc()
            self._hold(p)
            return
        except (SQLAlchemyError, StorageError) as exc:
            self._storage_failed([p], exc)
            return
        p.report.new, p.report.published = result.new, result.published
        p.report.duplicates = result.duplicates
        self._committed(p)

    def flush_states(self) -> None:
        batch, self._states = self._states, []
        if not batch:
            return
        try:
            self._store.commit([p.change for p in batch], utcnow())
        except (SQLAlchemyError, StorageError) as exc:
            self._storage_failed(batch, exc)
            return
        for p in batch:
            self._committed(p)

    def retry_held(self) -> list[FeedReport]:
        """Publish and commit the held polls, oldest first, until the broker fails again."""
        self.bus_down = False
        reports = []
        for feed_id in list(self.held):
            p = self.held.pop(feed_id)
            p.report.outcome = "ok"
            self.commit(p)
            reports.append(p.report)
            if self.bus_down:
                break
        if not self.held:
            log.info("broker available again: held polls published and committed")
        return reports

    def refresh_index(self, now: datetime) -> None:
        """Load recent fingerprints, also those other producer processes committed."""
        if self._index_built is None or now - self._index_built > _INDEX_REBUILD:
            self._index.reset()
            since, self._index_built = now - self._window, now
        else:
            assert self._index_synced is not None
            since = max(now - self._window, self._index_synced - timedelta(minutes=5))
        for article_id, fingerprint, feed_id in self._store.fingerprints_since(since):
            self._index.add(article_id, fingerprint, feed_id)
        self._index_synced = now

    def _committed(self, p: Prepared) -> None:
        if p.success:
            self._metrics.feed_last_success.labels(feed=p.feed.name).set(p.fetched_at.timestamp())
        if p.cadence:
            self._metrics.feed_expected_interval.labels(feed=p.feed.name).set(p.cadence)

    def _storage_failed(self, batch: Sequence[Prepared], exc: Exception) -> None:
        for p in batch:
            p.report.outcome, p.report.reason, p.report.detail = "error", "storage", str(exc)[:300]
        log.error("commit failed feeds=%s error=%s", ",".join(p.feed.name for p in batch), exc)

    def _hold(self, p: Prepared) -> None:
        p.report.outcome = "held"
        self.held[p.feed.id] = p
