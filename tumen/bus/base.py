"""Bus interface shared by the Kafka and embedded implementations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["TOPICS", "Bus", "Consumer", "Outgoing", "Producer", "Record"]

Headers = tuple[tuple[str, bytes], ...]

# Contract topic names (architecture.md).
TOPICS = {
    "articles": "tumen.articles.v1",
    "classified": "tumen.classified.v1",
    "alerts": "tumen.alerts.v1",
    "deadletter": "tumen.deadletter.v1",
}


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Headers = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def where(self) -> str:
        """Log field in the Quix style: ``topic[partition]@offset``."""
        return f"{self.topic}[{self.partition}]@{self.offset}"


class Producer(Protocol):
    def send(self, messages: Sequence[Outgoing], *, timeout_s: float = 30.0) -> None:
        """Block until every message is acknowledged; raise BusUnavailable/BusError otherwise."""

    def close(self) -> None: ...


class Consumer(Protocol):
    def poll(self, *, max_records: int, timeout_s: float) -> list[Record]: ...

    def commit(self, records: Sequence[Record]) -> None:
        """Commit past the highest offset of ``records`` per partition (synchronous)."""

    def pause(self) -> None:
        """Stop fetching but stay in the group (used while a downstream dependency is down)."""

    def resume(self) -> None: ...

    def take_revoked(self) -> set[tuple[str, int]]:
        """Partitions rebalances took from this consumer since the last call and did not give back.

        Records polled from them before that are no longer this consumer's to process or commit.
        """

    def unread(self, records: Sequence[Record]) -> None:
        """Seek back so that a later poll delivers ``records`` again (they were not processed)."""

    def rewind(self) -> None:
        """Go back to the last committed offsets (re-deliver what was polled but not committed)."""

    def lag(self) -> dict[tuple[str, int], int]:
        """Messages not yet committed, per (topic, partition) assigned to this consumer."""

    def close(self) -> None: ...


class Bus(Protocol):
    kind: str

    def ensure_topics(self, topics: Sequence[str]) -> None: ...

    def producer(self) -> Producer: ...

    def consumer(self, *, group: str, topics: Sequence[str]) -> Consumer: ...

    def close(self) -> None: ...
