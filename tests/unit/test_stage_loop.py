"""The consume → process → produce → commit loop, on the durable embedded bus."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from consumers.loop import BatchResult, LoopSettings, StageLoop
from tumen.bus.base import Consumer, Outgoing, Record
from tumen.bus.embedded import EmbeddedBus
from tumen.errors import StorageUnavailable
from tumen.metrics import Health, Metrics


class Echo:
    """Upper-cases values; ``bad`` is poison; fails transiently ``outages`` times."""

    name = "echo"
    group = "g-echo"
    topics: tuple[str, ...] = ("in",)
    model_version = "v-test"

    def __init__(self, outages: int = 0) -> None:
        self.outages = outages
        self.calls = 0

    def handle(self, records: list[Record]) -> BatchResult:
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise StorageUnavailable("db down")
        result = BatchResult()
        for r in records:
            if r.value == b"bad":
                result.failed.append((r, ValueError("cannot shout 'bad'")))
            else:
                result.outputs.append(Outgoing("out", value=r.value.upper(), key=r.key))
        return result


def _run(bus: EmbeddedBus, stage: Echo, values: list[bytes]) -> tuple[list[Record], Metrics]:
    bus.producer().send([Outgoing("in", value=v, key=b"k") for v in values])
    metrics = Metrics(CollectorRegistry())
    stop = threading.Event()
    loop = StageLoop(
        stage=stage,
        consumer=bus.consumer(group=stage.group, topics=["in"]),
        producer=bus.producer(),
        metrics=metrics,
        health=Health(),
        settings=LoopSettings(batch_size=10, max_wait_s=0.05, backoff_base_s=0.05),
    )
    t = threading.Thread(target=loop.run, args=(stop,))
    t.start()
    out = bus.consumer(group="reader", topics=["out"])
    got: list[Record] = []
    for _ in range(100):
        got += out.poll(max_records=100, timeout_s=0.1)
        if len(got) >= len([v for v in values if v != b"bad"]):
            break
    stop.set()
    t.join(5)
    assert not t.is_alive(), "the loop did not stop within 5 s"
    return got, metrics


def test_poison_goes_to_dead_letter_with_headers_and_the_batch_goes_on(tmp_path: Path) -> None:
    bus = EmbeddedBus(path=tmp_path / "bus.db")
    got, metrics = _run(bus, Echo(), [b"a", b"bad", b"c"])
    assert [r.value for r in got] == [b"A", b"C"]
    dl = bus.consumer(group="x", topics=["tumen.deadletter.v1"]).poll(max_records=10, timeout_s=0.1)
    assert len(dl) == 1 and dl[0].value == b"bad" and dl[0].key == b"k"
    headers = {k: v.decode() for k, v in dl[0].headers}
    assert headers["stage"] == "echo" and headers["error_class"] == "ValueError"
    assert "cannot shout" in headers["error_message"] and headers["model_version"] == "v-test"
    assert headers["original_topic"] == "in" and headers["attempt"] == "1"
    assert (
        metrics.registry.get_sample_value(
            "tumen_deadletter_total", {"stage": "echo", "reason": "ValueError"}
        )
        == 1
    )
    # Everything was committed: a new consumer of the group sees nothing.
    assert bus.consumer(group="g-echo", topics=["in"]).poll(max_records=10, timeout_s=0.05) == []


def test_transient_failures_are_retried_not_dead_lettered(tmp_path: Path) -> None:
    bus = EmbeddedBus(path=tmp_path / "bus.db")
    stage = Echo(outages=3)
    got, _ = _run(bus, stage, [b"a", b"b"])
    assert sorted(r.value for r in got) == [b"A", b"B"]
    assert stage.calls >= 4
    assert (
        bus.consumer(group="x", topics=["tumen.deadletter.v1"]).poll(max_records=10, timeout_s=0.05)
        == []
    )


class RevokedAfterFirstPoll:
    """The real embedded consumer, except that a rebalance takes partition ``in``[0] away during
    the poll that follows the first one that returned records."""

    def __init__(self, inner: Consumer) -> None:
        self._inner = inner
        self._state = "waiting"  # → "polled" → "revoking" (the next poll) → "revoked" (reported)

    def poll(self, *, max_records: int, timeout_s: float) -> list[Record]:
        if self._state == "polled":
            self._state = "revoking"
            return []
        records = self._inner.poll(max_records=max_records, timeout_s=timeout_s)
        if records and self._state == "waiting":
            self._state = "polled"
        return records

    def take_revoked(self) -> set[tuple[str, int]]:
        if self._state != "revoking":
            return set()
        self._state = "revoked"
        return {("in", 0)}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_records_of_a_revoked_partition_are_dropped_not_processed(tmp_path: Path) -> None:
    bus = EmbeddedBus(path=tmp_path / "bus.db")
    bus.producer().send([Outgoing("in", value=v, key=b"k") for v in (b"a", b"b", b"c")])
    stage = Echo()
    stop = threading.Event()
    loop = StageLoop(
        stage=stage,
        consumer=RevokedAfterFirstPoll(bus.consumer(group=stage.group, topics=["in"])),
        producer=bus.producer(),
        metrics=Metrics(CollectorRegistry()),
        health=Health(),
        settings=LoopSettings(batch_size=10, max_wait_s=0.3, poll_timeout_s=0.05),
    )
    t = threading.Thread(target=loop.run, args=(stop,))
    t.start()
    time.sleep(1.5)
    stop.set()
    t.join(5)
    assert stage.calls == 0, "records of a partition that moved were processed"
    # Nothing was committed: the partition's next owner reads all three.
    again = bus.consumer(group=stage.group, topics=["in"]).poll(max_records=10, timeout_s=0.1)
    assert [r.value for r in again] == [b"a", b"b", b"c"]
