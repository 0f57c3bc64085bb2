"""Kafka bus on kafka-python 3.x.

Producer: ``acks=all`` with idempotence, so retries neither lose nor duplicate within a session,
and at most 5 in-flight requests per connection, which keeps order per key. Consumer: manual
commits only (``enable_auto_commit=False``), ``close(autocommit=False)``, so an offset is never
committed for a record the stage has not finished. Offsets are committed synchronously after each
batch, before the next poll; a rebalance runs inside poll, so at a revoke every processed record
is committed, and the records that the stage polled but has not processed from a partition now
owned by another member are dropped from its batch (``take_revoked``): that member reads them
from the committed offset.
Only a batch whose commit fails is re-delivered, which downstream idempotency makes harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    CommitFailedError,
    KafkaError,
    KafkaTimeoutError,
    RetriableError,
    TopicAlreadyExistsError,
)
from kafka.structs import OffsetAndMetadata

from tumen.bus.base import Outgoing, Record
from tumen.config import KafkaSettings
from tumen.errors import BusError, BusUnavailable
from tumen.retry import wait_until_reachable

__all__ = ["KafkaBus", "wait_for_broker"]

log = logging.getLogger(__name__)


def _wrap(exc: Exception, what: str) -> BusError:
    if isinstance(exc, RetriableError | KafkaTimeoutError | OSError):
        return BusUnavailable(f"{what}: {type(exc).__name__}: {exc}")
    return BusError(f"{what}: {type(exc).__name__}: {exc}")


def wait_for_broker(settings: KafkaSettings, *, timeout_s: float | None = None) -> None:
    """Block until the brokers answer, retrying with backoff; raise BusUnavailable at the end."""

    def probe(remaining_s: float) -> None:
        KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-probe",
            request_timeout_ms=5000,
            bootstrap_timeout_ms=int(min(10.0, remaining_s) * 1000),
        ).close()

    wait_until_reachable(
        probe,
        what=f"Kafka at {settings.bootstrap_servers}",
        timeout_s=timeout_s if timeout_s is not None else settings.connect_timeout_s,
        retry_on=(KafkaError, OSError),
        error=BusUnavailable,
    )


class KafkaBus:
    kind = "kafka"

    def __init__(self, *, settings: KafkaSettings) -> None:
        if not settings.bootstrap_servers:
            raise BusError("KafkaBus needs kafka.bootstrap_servers")
        self._settings = settings

    def ensure_topics(self, topics: Sequence[str]) -> None:
        topics = [self._settings.namespace + t for t in topics]
        admin = KafkaAdminClient(
            bootstrap_servers=self._settings.bootstrap_servers,
            client_id=f"{self._settings.client_id}-admin",
        )
        try:
            existing = set(admin.list_topics())
            spec = {
                "num_partitions": self._settings.partitions,
                "replication_factor": self._settings.replication_factor,
            }
            missing = {t: dict(spec) for t in topics if t not in existing}
            if missing:
                try:
                    admin.create_topics(missing, wait_for_metadata=True)
                    log.info(
                        "created topics=%s partitions=%d", sorted(missing), spec["num_partitions"]
                    )
                except TopicAlreadyExistsError:
                    pass  # another service created them first
        except KafkaError as exc:
            raise _wrap(exc, "create topics") from exc
        finally:
            admin.close()

    def producer(self) -> KafkaBusProducer:
        return KafkaBusProducer(self._settings)

    def consumer(self, *, group: str, topics: Sequence[str]) -> KafkaBusConsumer:
        return KafkaBusConsumer(self._settings, group=group, topics=list(topics))

    def close(self) -> None:
        """Clients are owned by the producers and consumers handed out."""


class KafkaBusProducer:
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._client: KafkaProducer | None = None  # lazy: connect on first send

    def _get(self) -> KafkaProducer:
        if self._client is None:
            try:
                self._client = KafkaProducer(
                    bootstrap_servers=self._settings.bootstrap_servers,
                    client_id=self._settings.client_id,
                    acks="all",
                    enable_idempotence=True,
                    max_in_flight_requests_per_connection=5,
                    compression_type=self._settings.compression,
                    linger_ms=5,
                    request_timeout_ms=self._settings.request_timeout_ms,
                    delivery_timeout_ms=max(120000, self._settings.request_timeout_ms + 5000),
                )
            except (KafkaError, OSError) as exc:
                raise _wrap(exc, "connect producer") from exc
        return self._client

    def send(self, messages: Sequence[Outgoing], *, timeout_s: float = 30.0) -> None:
        if not messages:
            return
        client = self._get()
        try:
            ns = self._settings.namespace
            futures = [
                client.send(ns + m.topic, value=m.value, key=m.key, headers=list(m.headers))
                for m in messages
            ]
            client.flush(timeout=timeout_s)
            for future in futures:
                future.get(timeout=timeout_s)
        except (KafkaError, OSError) as exc:
            raise _wrap(exc, f"send {len(messages)} message(s)") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close(timeout=10)
            self._client = None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes which partitions were revoked, for the stage to drop what it polled from them.

    kafka-python 3 runs the revoke inside ``poll()`` (that is where the member rejoins), and the
    stage loop commits each batch before it polls again, so at a revoke every processed record is
    already committed; what remains is the part of a batch collected but not yet processed, and
    of that only the records of partitions that went to another member must be dropped.
    """

    def __init__(self, group: str) -> None:
        self._group = group
        self._lock = threading.Lock()
        self._revoked: set[tuple[str, int]] = set()

    def on_partitions_revoked(self, revoked: Any) -> None:
        parts = {(tp.topic, tp.partition) for tp in revoked}
        if parts:
            log.info("partitions revoked group=%s %s", self._group, _names(parts))
        with self._lock:
            self._revoked |= parts

    def on_partitions_assigned(self, assigned: Any) -> None:
        parts = {(tp.topic, tp.partition) for tp in assigned}
        log.info("partitions assigned group=%s %s", self._group, _names(parts))

    def take(self) -> set[tuple[str, int]]:
        with self._lock:
            taken, self._revoked = self._revoked, set()
        return taken


def _names(parts: set[tuple[str, int]]) -> str:
    return ",".join(f"{topic}[{partition}]" for topic, partition in sorted(parts))


class KafkaBusConsumer:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        group: str,
        topics: list[str],
    ) -> None:
        self._settings = settings
        self._ns = settings.namespace
        group = self._ns + group
        try:
            self._client = KafkaConsumer(
                bootstrap_servers=settings.bootstrap_servers,
                client_id=settings.client_id,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=settings.max_poll_records,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=settings.heartbeat_interval_ms,
                max_poll_interval_ms=settings.max_poll_interval_ms,
                request_timeout_ms=settings.request_timeout_ms,
            )
            self._listener = _Listener(group)
            self._client.subscribe([self._ns + t for t in topics], listener=self._listener)
        except (KafkaError, OSError) as exc:
            raise _wrap(exc, f"connect consumer group={group}") from exc
        self._group = group

    def poll(self, *, max_records: int, timeout_s: float) -> list[Record]:
        try:
            batches = self._client.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except (KafkaError, OSError) as exc:
            raise _wrap(exc, "poll") from exc
        out: list[Record] = []
        for msgs in batches.values():
            out.extend(
                Record(
                    m.topic[len(self._ns) :],  # stages see the contract names
                    m.partition,
                    m.offset,
                    m.value,
                    m.key,
                    tuple((k, v or b"") for k, v in (m.headers or [])),
                    m.timestamp,
                )
                for m in msgs
            )
        return out

    def take_revoked(self) -> set[tuple[str, int]]:
        # A partition revoked and given straight back keeps its fetch position here, so records
        # polled from it before the rebalance stay this consumer's to process and commit.
        ns = len(self._ns)
        kept = {(tp.topic, tp.partition) for tp in self._client.assignment()}
        return {(t[ns:], p) for t, p in self._listener.take() - kept}

    def commit(self, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for rec in records:
            tp = TopicPartition(self._ns + rec.topic, rec.partition)
            if tp not in offsets or offsets[tp].offset < rec.offset + 1:
                offsets[tp] = OffsetAndMetadata(rec.offset + 1)
        if not offsets:
            return
        try:
            self._client.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced under us: the new owner re-processes from the last commit.
            log.warning("commit failed after rebalance group=%s: %s", self._group, exc)
            raise BusUnavailable(f"commit failed, partitions reassigned: {exc}") from exc
        except (KafkaError, OSError) as exc:
            raise _wrap(exc, "commit") from exc

    def pause(self) -> None:
        self._client.pause(*self._client.assignment())

    def resume(self) -> None:
        self._client.resume(*self._client.paused())

    def unread(self, records: Sequence[Record]) -> None:
        first: dict[TopicPartition, int] = {}
        for rec in records:
            tp = TopicPartition(self._ns + rec.topic, rec.partition)
            first[tp] = min(first.get(tp, rec.offset), rec.offset)
        owned = self._client.assignment()
        for tp, offset in first.items():
            if tp in owned:  # a revoked partition restarts from its committed offset anyway
                self._client.seek(tp, offset)

    def rewind(self) -> None:
        for tp in self._client.assignment():
            committed = self._client.committed(tp)
            if committed is None:
                self._client.seek_to_beginning(tp)
            else:
                self._client.seek(tp, committed)

    def lag(self) -> dict[tuple[str, int], int]:
        parts = list(self._client.assignment())
        if not parts:
            return {}
        try:
            ends = self._client.end_offsets(parts, timeout_ms=5000)
            out = {}
            for tp in parts:
                committed = self._client.committed(tp) or 0
                out[(tp.topic[len(self._ns) :], tp.partition)] = max(
                    0, int(ends.get(tp, 0)) - int(committed)
                )
            return out
        except (KafkaError, OSError) as exc:
            raise _wrap(exc, "lag") from exc

    def close(self) -> None:
        try:
            self._client.close(autocommit=False, timeout_ms=10000)
        except (KafkaError, OSError) as exc:
            log.warning("consumer close group=%s: %s", self._group, exc)
