"""``tumen replay FILE.jsonl [--rate N]``: publish archived articles into the pipeline.

Each line is one article: ``url``, ``title`` and ``content`` are required; ``feed`` (default
"replay"), ``summary``, ``published_at`` and ``fetched_at`` (ISO 8601; default now),
``language`` and ``guid`` are optional. The id is computed from the URL as for polled articles
(an ``id`` in the line is ignored), so a replayed article and the same article polled later are
one. Messages are published keyed by id and each batch waits for the broker's acknowledgement.
A bad line is reported on stderr with its number and skipped; the exit status is 1 if any was.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from producers.publisher import to_article_message
from tumen.bus import Outgoing, Producer
from tumen.ids import article_id, content_hash
from tumen.runtime import Runtime
from tumen.schemas import Article, utcnow

__all__ = ["replay_file"]

log = logging.getLogger(__name__)

_REQUIRED = ("url", "title", "content")
_OPTIONAL = ("feed", "summary", "published_at", "fetched_at", "language")
_MAX_BATCH = 500


class BadLine(ValueError):
    pass


def parse_line(line: str) -> Article:
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise BadLine(f"expected a JSON object, got {type(obj).__name__}")
    for key in _REQUIRED:
        if not isinstance(obj.get(key), str):
            raise BadLine(f"{key}: missing or not a string")
    if not obj["url"].strip():
        raise BadLine("url: empty")
    fields = {k: obj[k] for k in _OPTIONAL if obj.get(k) is not None}
    fields.setdefault("feed", "replay")
    fields.setdefault("fetched_at", utcnow())
    text = obj["content"] or fields.get("summary", "")
    try:
        return Article(
            id=article_id(
                obj["url"], obj.get("guid") if isinstance(obj.get("guid"), str) else None
            ),
            url=obj["url"],
            title=obj["title"],
            content=obj["content"],
            content_hash=content_hash(f"{obj['title']}\n{text}"),
            **fields,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<line>"
        raise BadLine(f"{where}: {first['msg']}") from None


class _Pacer:
    """At most ``rate`` messages per second on average (0: as fast as the broker takes them)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()

    def wait(self) -> None:
        if self._interval:
            delay = self._next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next = max(self._next, time.monotonic() - 1.0) + self._interval


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, line


def replay_file(rt: Runtime, path: Path, *, rate: float) -> int:
    total = sum(1 for _ in _lines(path))  # also fails early on a missing file
    producer = rt.bus().producer()
    try:
        sent, failed = _replay(producer, path, total=total, rate=rate)
    finally:
        producer.close()
    print(f"replayed {sent} article(s) from {path}; {failed} line(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _replay(producer: Producer, path: Path, *, total: int, rate: float) -> tuple[int, int]:
    batch_size = _MAX_BATCH if rate <= 0 else max(1, min(_MAX_BATCH, int(rate)))
    pacer, batch, sent, failed = _Pacer(rate), list[Outgoing](), 0, 0
    # Imported by name: tqdm ships no type stubs and the project does not depend on them.
    tqdm = importlib.import_module("tqdm").tqdm
    with tqdm(total=total, file=sys.stderr, unit="article", mininterval=0.5) as bar:
        for number, line in _lines(path):
            try:
                article = parse_line(line)
            except BadLine as exc:
                failed += 1
                print(f"tumen: line {number}: {exc}", file=sys.stderr)
                bar.update(1)
                continue
            pacer.wait()
            batch.append(to_article_message(article))
            if len(batch) >= batch_size:
                producer.send(batch)
                sent, batch = sent + len(batch), []
                bar.update(batch_size)  # the batch was exactly this long
        if batch:
            producer.send(batch)
            sent += len(batch)
            bar.update(len(batch))
    return sent, failed
