"""``tumen deadletter list|replay``: inspect and re-inject dead-lettered messages.

``list`` reads the dead-letter topic with a throw-away group (nothing is committed). ``replay``
sends each message back to the topic it came from, with its original key, and commits in its own
group ``tumen-deadletter-replay[-STAGE]``, so each dead letter is replayed once per fix.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator
from typing import TextIO

from tumen.bus import Bus, Consumer, Outgoing, Record
from tumen.bus.base import TOPICS
from tumen.runtime import Runtime

__all__ = ["dispatch", "iter_dead_letters"]

DLQ = TOPICS["deadletter"]


def iter_dead_letters(
    bus: Bus, *, group: str, idle_s: float = 3.0
) -> Iterator[tuple[Consumer, list[Record]]]:
    """Batches of the dead-letter topic until it has been idle for ``idle_s``; the caller
    commits what it has handled."""
    consumer = bus.consumer(group=group, topics=[DLQ])
    try:
        empty = 0.0
        while empty < idle_s:
            batch = consumer.poll(max_records=100, timeout_s=1.0)
            if not batch:
                empty += 1.0
                continue
            empty = 0.0
            yield consumer, batch
    finally:
        consumer.close()


def _describe(rec: Record) -> dict[str, object]:
    h = {k: v.decode("utf-8", "replace") for k, v in rec.headers}
    return {
        "offset": rec.where,
        "key": rec.key.decode("utf-8", "replace") if rec.key else None,
        "stage": h.get("stage"),
        "error_class": h.get("error_class"),
        "error_message": h.get("error_message"),
        "original": h.get("original_topic"),
        "bytes": len(rec.value),
    }


def _list(rt: Runtime, limit: int, out: TextIO) -> int:
    shown = 0
    group = f"tumen-deadletter-list-{uuid.uuid4().hex}"
    for _, batch in iter_dead_letters(rt.bus(), group=group):
        for rec in batch:
            if shown >= limit:
                return 0
            out.write(json.dumps(_describe(rec), ensure_ascii=False) + "\n")
            shown += 1
    if shown == 0:
        out.write("no dead-lettered messages\n")
    return 0


def _replay(rt: Runtime, stage: str | None, out: TextIO) -> int:
    """Re-inject what was dead-lettered before this command started. Messages that fail again
    come back to the topic with a newer timestamp; they are left for the next replay, so a
    message that still fails cannot loop."""
    bus = rt.bus()
    producer = bus.producer()
    started_ms = int(time.time() * 1000)
    replayed = skipped = 0
    group = f"tumen-deadletter-replay-{stage}" if stage else "tumen-deadletter-replay"
    try:
        for consumer, batch in iter_dead_letters(bus, group=group):
            old = [r for r in batch if r.timestamp_ms < started_ms]
            sends = []
            for rec in old:
                origin = (rec.header("original_topic") or b"").decode()
                if not origin or (stage and (rec.header("stage") or b"").decode() != stage):
                    skipped += 1
                    continue
                sends.append(
                    Outgoing(
                        origin,
                        value=rec.value,
                        key=rec.key,
                        headers=(("replayed_from", DLQ.encode()),),
                    )
                )
            producer.send(sends)  # acknowledged before the batch is committed
            consumer.commit(old)
            replayed += len(sends)
    finally:
        producer.close()
    out.write(f"replayed {replayed} message(s), skipped {skipped}\n")
    return 0


def dispatch(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    if args.dl_action == "list":
        return _list(rt, args.limit, out)
    return _replay(rt, args.stage, out)
