"""A durable, single-node bus on SQLite for ``tumen run``.

Each topic is one partition (0): an append-only table of messages with a monotonically increasing
offset, plus a table of committed offsets per consumer group. WAL with ``synchronous=FULL`` means a
message is on disk when ``send`` returns, so a ``kill -9`` loses nothing that was accepted.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from tumen.bus.base import Headers, Outgoing, Record
from tumen.errors import BusError

__all__ = ["EmbeddedBus"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL, "offset" INTEGER NOT NULL, key BLOB, value BLOB NOT NULL,
    headers TEXT NOT NULL, ts_ms INTEGER NOT NULL, PRIMARY KEY (topic, "offset"));
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, "offset" INTEGER NOT NULL, PRIMARY KEY (grp, topic));
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(_SCHEMA)
    return conn


def _pack_headers(headers: Headers) -> str:
    return json.dumps([[k, base64.b64encode(v).decode("ascii")] for k, v in headers])


def _unpack_headers(raw: str) -> Headers:
    return tuple((k, base64.b64decode(v)) for k, v in json.loads(raw))


class EmbeddedBus:
    kind = "embedded"

    def __init__(self, *, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(self._path)
        self._lock = threading.Lock()
        self._arrived = threading.Condition()
        self._closed = False

    # -- Bus ------------------------------------------------------------------------------
    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Topics need no creation here: a topic exists once a message is written to it."""

    def producer(self) -> _EmbeddedProducer:
        return _EmbeddedProducer(self)

    def consumer(self, *, group: str, topics: Sequence[str]) -> _EmbeddedConsumer:
        return _EmbeddedConsumer(self, group=group, topics=list(topics))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()

    # -- internals shared by producer and consumers ---------------------------------------
    def _append(self, messages: Sequence[Outgoing]) -> None:
        now = int(time.time() * 1000)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                for msg in messages:
                    (last,) = self._conn.execute(
                        'SELECT COALESCE(MAX("offset"), -1) FROM messages WHERE topic = ?',
                        (msg.topic,),
                    ).fetchone()
                    self._conn.execute(
                        "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                        (msg.topic, last + 1, msg.key, msg.value, _pack_headers(msg.headers), now),
                    )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK") if self._conn.in_transaction else None
                raise BusError(f"embedded bus write failed: {exc}") from exc
        with self._arrived:
            self._arrived.notify_all()

    def _read(self, topic: str, start: int, limit: int) -> list[Record]:
        with self._lock:
            if self._closed:
                raise BusError("embedded bus is closed")
            rows = self._conn.execute(
                'SELECT "offset", key, value, headers, ts_ms FROM messages '
                'WHERE topic = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?',
                (topic, start, limit),
            ).fetchall()
        return [
            Record(
                topic,
                0,
                off,
                bytes(val),
                bytes(key) if key is not None else None,
                _unpack_headers(hdr),
                ts,
            )
            for off, key, val, hdr, ts in rows
        ]

    def _committed(self, group: str, topic: str) -> int:
        with self._lock:
            row = self._conn.execute(
                'SELECT "offset" FROM offsets WHERE grp = ? AND topic = ?', (group, topic)
            ).fetchone()
        return int(row[0]) if row else 0

    def _commit(self, group: str, positions: dict[str, int]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for topic, offset in positions.items():
                self._conn.execute(
                    "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (grp, topic) "
                    'DO UPDATE SET "offset" = MAX("offset", excluded."offset")',
                    (group, topic, offset),
                )
            self._conn.execute("COMMIT")

    def _end(self, topic: str) -> int:
        with self._lock:
            (last,) = self._conn.execute(
                'SELECT COALESCE(MAX("offset"), -1) FROM messages WHERE topic = ?', (topic,)
            ).fetchone()
        return int(last) + 1

    def _wait(self, timeout_s: float) -> None:
        with self._arrived:
            self._arrived.wait(timeout_s)


class _EmbeddedProducer:
    def __init__(self, bus: EmbeddedBus) -> None:
        self._bus = bus

    def send(self, messages: Sequence[Outgoing], *, timeout_s: float = 30.0) -> None:
        if messages:
            self._bus._append(messages)

    def close(self) -> None:
        """Nothing buffered: every send is already durable."""


class _EmbeddedConsumer:
    def __init__(self, bus: EmbeddedBus, *, group: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._paused = False
        self._positions = {t: bus._committed(group, t) for t in topics}

    def poll(self, *, max_records: int, timeout_s: float) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while True:
            records = [] if self._paused else self._fetch(max_records)
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                return records
            # Wake on an in-process send; poll the file now and then for other processes.
            self._bus._wait(min(remaining, 0.2))

    def _fetch(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        for topic in self._topics:
            got = self._bus._read(topic, self._positions[topic], max_records - len(out))
            if got:
                self._positions[topic] = got[-1].offset + 1
                out.extend(got)
            if len(out) >= max_records:
                break
        return out

    def commit(self, records: Sequence[Record]) -> None:
        positions: dict[str, int] = {}
        for rec in records:
            positions[rec.topic] = max(positions.get(rec.topic, 0), rec.offset + 1)
        if positions:
            self._bus._commit(self._group, positions)

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def take_revoked(self) -> set[tuple[str, int]]:
        return set()  # one consumer per group: nothing is ever reassigned

    def unread(self, records: Sequence[Record]) -> None:
        for rec in records:
            self._positions[rec.topic] = min(self._positions[rec.topic], rec.offset)

    def rewind(self) -> None:
        self._positions = {t: self._bus._committed(self._group, t) for t in self._topics}

    def lag(self) -> dict[tuple[str, int], int]:
        return {
            (t, 0): self._bus._end(t) - self._bus._committed(self._group, t) for t in self._topics
        }

    def close(self) -> None:
        """Uncommitted records are redelivered to the next consumer of the group."""
