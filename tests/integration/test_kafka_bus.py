"""The Kafka bus against the real broker: 1,000 messages over 6 partitions, manual commits,
resumption at the committed offsets with nothing lost or repeated."""

from __future__ import annotations

import threading
import time

import pytest

from tumen.bus.base import Outgoing, Record
from tumen.bus.kafka import KafkaBus
from tumen.config import KafkaSettings
from tumen.errors import BusUnavailable

pytestmark = pytest.mark.integration


def _drain(consumer: object, want: int, deadline_s: float = 60.0) -> list[Record]:
    got: list[Record] = []
    end = time.monotonic() + deadline_s
    while len(got) < want and time.monotonic() < end:
        batch = consumer.poll(max_records=min(100, want - len(got)), timeout_s=1.0)  # type: ignore[attr-defined]
        got.extend(batch)
        if batch:
            consumer.commit(batch)  # type: ignore[attr-defined]
    return got


def _settings(bootstrap: str, *, max_poll_records: int) -> KafkaSettings:
    """Six partitions and a short session, so a lost member is noticed within seconds."""
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        partitions=6,
        max_poll_records=max_poll_records,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=60000,
    )


def test_round_trip_exactly_once_with_resume(kafka_bootstrap: str, unique: str) -> None:
    bus = KafkaBus(settings=_settings(kafka_bootstrap, max_poll_records=100))
    topic, group = f"test.roundtrip.{unique}", f"g-{unique}"
    bus.ensure_topics([topic])
    bus.ensure_topics([topic])  # idempotent
    producer = bus.producer()
    producer.send(
        [Outgoing(topic, value=str(i).encode(), key=f"k{i % 97}".encode()) for i in range(1000)]
    )
    producer.close()

    first = bus.consumer(group=group, topics=[topic])
    half = _drain(first, 500)
    first.close()
    second = bus.consumer(group=group, topics=[topic])
    rest = _drain(second, 1000 - len(half))
    assert second.poll(max_records=100, timeout_s=2.0) == []
    assert sum(second.lag().values()) == 0
    second.close()

    values = [int(r.value) for r in half + rest]
    assert len(values) == 1000, "lost or repeated messages"
    assert sorted(values) == list(range(1000))
    assert {r.partition for r in half + rest} == set(range(6))
    # Order holds per key: offsets within a partition increase.
    for p in range(6):
        offs = [r.offset for r in half + rest if r.partition == p]
        assert offs == sorted(offs)


def test_unreachable_broker_raises_bus_unavailable() -> None:
    from tumen.bus.kafka import wait_for_broker

    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1", connect_timeout_s=2.0)
    start = time.monotonic()
    with pytest.raises(BusUnavailable, match=r"127\.0\.0\.1:1"):
        wait_for_broker(settings)
    assert time.monotonic() - start < 30


def test_a_revoke_reports_the_partitions_taken_and_nothing_is_lost(
    kafka_bootstrap: str, unique: str
) -> None:
    """The first member holds a polled, unprocessed batch when a second member joins. The poll in
    which it rejoins reports the partitions that went to the newcomer; dropping the held records
    of those, as the stage loop does, loses nothing and repeats nothing."""
    bus = KafkaBus(settings=_settings(kafka_bootstrap, max_poll_records=500))
    topic, group = f"test.revoke.{unique}", f"g-{unique}"
    bus.ensure_topics([topic])
    producer = bus.producer()
    producer.send(
        [Outgoing(topic, value=str(i).encode(), key=f"k{i}".encode()) for i in range(300)]
    )
    producer.close()

    first = bus.consumer(group=group, topics=[topic])
    held: list[Record] = []
    end = time.monotonic() + 60
    while len(held) < 300 and time.monotonic() < end:
        held.extend(first.poll(max_records=300 - len(held), timeout_s=1.0))
    assert len(held) == 300
    first.take_revoked()

    read_by_second: list[Record] = []
    stop = threading.Event()

    def second_member() -> None:
        second = bus.consumer(group=group, topics=[topic])
        while not stop.is_set():
            batch = second.poll(max_records=100, timeout_s=0.5)
            read_by_second.extend(batch)
            if batch:
                second.commit(batch)
        second.close()

    joiner = threading.Thread(target=second_member)
    joiner.start()
    revoked: set[tuple[str, int]] = set()
    read_again: list[Record] = []
    end = time.monotonic() + 40
    kept: list[Record] = held
    while time.monotonic() < end:
        batch = first.poll(max_records=100, timeout_s=0.5)  # rejoins in here
        revoked |= first.take_revoked()
        kept = [r for r in held if (r.topic, r.partition) not in revoked]
        read_again.extend(batch)
        if batch:
            first.commit(batch)
        if revoked and len(kept) + len(read_again) + len(read_by_second) >= 300:
            break
    time.sleep(1.0)  # would show a record read twice
    stop.set()
    joiner.join(timeout=30)
    first.close()

    assert read_by_second, "the second member was given partitions"
    assert revoked == {(r.topic, r.partition) for r in read_by_second}
    assert len(revoked) == 3
    values = sorted(int(r.value) for r in kept + read_again + read_by_second)
    assert values == list(range(300)), "after dropping the held batch: nothing lost or repeated"


def test_unread_records_are_delivered_again(kafka_bootstrap: str, unique: str) -> None:
    bus = KafkaBus(settings=_settings(kafka_bootstrap, max_poll_records=100))
    topic, group = f"test.unread.{unique}", f"g-{unique}"
    bus.ensure_topics([topic])
    producer = bus.producer()
    producer.send([Outgoing(topic, value=str(i).encode(), key=f"k{i}".encode()) for i in range(60)])
    producer.close()
    consumer = bus.consumer(group=group, topics=[topic])
    first = _drain_uncommitted(consumer, 60)
    consumer.unread(first[20:])  # the first 20 were processed, the rest go back
    again = _drain_uncommitted(consumer, 40)
    consumer.close()
    assert sorted((r.partition, r.offset) for r in again) == sorted(
        (r.partition, r.offset) for r in first[20:]
    )


def _drain_uncommitted(consumer: object, want: int, deadline_s: float = 60.0) -> list[Record]:
    got: list[Record] = []
    end = time.monotonic() + deadline_s
    while len(got) < want and time.monotonic() < end:
        got.extend(consumer.poll(max_records=want - len(got), timeout_s=1.0))  # type: ignore[attr-defined]
    return got
