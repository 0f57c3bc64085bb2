"""The consume → process → produce → commit loop every stage runs on.

Delivery: at-least-once. A batch's outputs (and its dead letters) are sent and acknowledged, and
the stage's own writes committed, before the batch's offsets are committed. A crash anywhere
before the commit re-delivers the batch; every stage is idempotent by key, so that costs nothing.

Failures:
- a poison message (undecodable, invalid, or its processing raises) goes to the dead-letter topic
  with headers naming the stage, error class, message, attempt and model version; the rest of the
  batch goes on;
- a transient failure (broker or database unreachable) pauses consumption and retries the whole
  batch with capped exponential backoff, polling meanwhile so the consumer keeps its group
  membership — no dead-lettering, no crash loop, no loss.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from tumen.bus import Consumer, Outgoing, Producer, Record
from tumen.bus.base import TOPICS
from tumen.errors import BusUnavailable, StorageUnavailable
from tumen.metrics import Health, Metrics

__all__ = ["BatchResult", "LoopSettings", "Stage", "StageLoop", "dead_letter"]

log = logging.getLogger(__name__)
TRANSIENT = (BusUnavailable, StorageUnavailable)


@dataclass
class BatchResult:
    outputs: list[Outgoing] = field(default_factory=list)
    failed: list[tuple[Record, Exception]] = field(default_factory=list)


class Stage(Protocol):
    name: str
    group: str
    topics: tuple[str, ...]

    @property
    def model_version(self) -> str: ...

    def handle(self, records: list[Record]) -> BatchResult:
        """Process a batch. Raise a transient error to have the whole batch retried."""


@dataclass(frozen=True)
class LoopSettings:
    batch_size: int = 32
    max_wait_s: float = 0.5
    poll_timeout_s: float = 0.5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    lag_every_s: float = 10.0
    shutdown_grace_s: float = 20.0


def dead_letter(
    record: Record, exc: Exception, *, stage: str, model_version: str, attempt: int = 1
) -> Outgoing:
    """The original bytes and key, with headers saying where and why it failed."""
    message = str(exc).replace("\n", " ")[:1000]
    headers = (
        ("stage", stage.encode()),
        ("error_class", type(exc).__name__.encode()),
        ("error_message", message.encode("utf-8", "replace")),
        ("attempt", str(attempt).encode()),
        ("model_version", model_version.encode()),
        ("original_topic", record.topic.encode()),
        ("original_partition", str(record.partition).encode()),
        ("original_offset", str(record.offset).encode()),
        ("failed_at", str(int(time.time())).encode()),
    )
    return Outgoing(TOPICS["deadletter"], value=record.value, key=record.key, headers=headers)


def _reason(exc: Exception) -> str:
    return type(exc).__name__


class StageLoop:
    def __init__(
        self,
        *,
        stage: Stage,
        consumer: Consumer,
        producer: Producer,
        metrics: Metrics,
        health: Health,
        settings: LoopSettings | None = None,
    ) -> None:
        self._stage = stage
        self._consumer = consumer
        self._producer = producer
        self._metrics = metrics
        self._health = health
        self._settings = settings or LoopSettings()
        self._last_lag = 0.0
        self._lag_labels: set[tuple[str, str, str]] = set()

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop.is_set()``; then finish or abandon the batch in hand and close."""
        self._health.ready = True
        self._metrics.up.labels(self._stage.name).set(1)
        try:
            while not stop.is_set():
                self._health.beat()
                batch = self._collect(stop)
                if batch:
                    self._process(batch, stop)
                self._maybe_report_lag()
        finally:
            self._health.ready = False
            self._metrics.up.labels(self._stage.name).set(0)
            self._consumer.close()
            log.info("stage stopped stage=%s", self._stage.name)

    def _collect(self, stop: threading.Event) -> list[Record]:
        """Gather up to batch_size records, waiting at most max_wait_s after the first."""
        s = self._settings
        self._consumer.take_revoked()  # everything before this poll is committed
        batch = self._poll(s.batch_size, s.poll_timeout_s)
        deadline = time.monotonic() + s.max_wait_s
        while batch and len(batch) < s.batch_size and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._poll(s.batch_size - len(batch), min(remaining, s.poll_timeout_s))
            batch = self._still_ours(batch)  # a rebalance in that poll may have taken some
            batch.extend(more)
        return batch

    def _still_ours(self, batch: list[Record]) -> list[Record]:
        """Drop records of partitions revoked since they were polled: the next owner re-reads
        them from the committed offset, so processing them here would only duplicate work."""
        revoked = self._consumer.take_revoked()
        if not revoked:
            return batch
        kept = [r for r in batch if (r.topic, r.partition) not in revoked]
        if len(kept) < len(batch):
            log.info(
                "dropped records of revoked partitions stage=%s dropped=%d kept=%d",
                self._stage.name,
                len(batch) - len(kept),
                len(kept),
            )
        return kept

    def _poll(self, max_records: int, timeout_s: float) -> list[Record]:
        try:
            return self._consumer.poll(max_records=max_records, timeout_s=timeout_s)
        except TRANSIENT as exc:
            self._metrics.bus_errors.labels(self._stage.name).inc()
            log.warning("poll failed stage=%s error=%s", self._stage.name, exc)
            time.sleep(self._settings.backoff_base_s)
            return []

    def _process(self, batch: list[Record], stop: threading.Event) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                self._attempt(batch, attempt)
                return
            except TRANSIENT as exc:
                if stop.is_set():
                    log.warning(
                        "abandoning batch on stop stage=%s size=%d (re-delivered later)",
                        self._stage.name,
                        len(batch),
                    )
                    return
                self._backoff(exc, attempt, stop)
                batch = self._still_ours(batch)  # the backoff's polls may have rebalanced
                if not batch:
                    return

    def _attempt(self, batch: list[Record], attempt: int) -> None:
        result = self._stage.handle(batch)
        letters = [
            dead_letter(
                rec,
                exc,
                stage=self._stage.name,
                model_version=self._stage.model_version,
                attempt=attempt,
            )
            for rec, exc in result.failed
        ]
        self._producer.send([*result.outputs, *letters])
        for rec, exc in result.failed:
            self._metrics.deadletter.labels(self._stage.name, _reason(exc)).inc()
            log.warning(
                "dead-lettered stage=%s record=%s error=%s: %s",
                self._stage.name,
                rec.where,
                type(exc).__name__,
                str(exc)[:200],
            )
        try:
            self._consumer.commit(batch)
        except BusUnavailable as exc:
            # Outputs are durable and idempotent downstream: a re-delivery is harmless.
            log.warning(
                "commit failed stage=%s (batch will be re-delivered): %s", self._stage.name, exc
            )

    def _backoff(self, exc: Exception, attempt: int, stop: threading.Event) -> None:
        s = self._settings
        delay = min(s.backoff_max_s, s.backoff_base_s * 2 ** min(attempt - 1, 16))
        label = "storage" if isinstance(exc, StorageUnavailable) else "bus"
        self._metrics.bus_errors.labels(self._stage.name).inc()
        if label == "storage":
            self._metrics.store_errors.labels("unavailable").inc()
        log.warning(
            "transient failure stage=%s attempt=%d retry_in_s=%.1f error=%s",
            self._stage.name,
            attempt,
            delay,
            exc,
        )
        self._consumer.pause()
        end = time.monotonic() + delay
        try:
            while time.monotonic() < end and not stop.is_set():
                self._health.beat()
                # Polling keeps the group membership. A rebalance meanwhile may hand over new,
                # unpaused partitions: pause those too, and push back anything that slipped
                # through, or a later commit on its partition would skip it.
                self._consumer.pause()
                stray = self._poll(1, min(0.5, max(0.0, end - time.monotonic())))
                if stray:
                    self._consumer.unread(stray)
        finally:
            self._consumer.resume()

    def _maybe_report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag < self._settings.lag_every_s:
            return
        self._last_lag = now
        try:
            lags = self._consumer.lag()
        except TRANSIENT:
            return
        current = {(self._stage.group, t, str(p)) for t, p in lags}
        for labels in self._lag_labels - current:  # partitions moved to another replica
            self._metrics.consumer_lag.remove(*labels)
        self._lag_labels = current
        for (topic, partition), lag in lags.items():
            self._metrics.consumer_lag.labels(self._stage.group, topic, str(partition)).set(lag)
