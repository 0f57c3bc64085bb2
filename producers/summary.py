"""What a polling round did, per feed, and the table ``tumen poll --once`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

__all__ = ["FeedReport", "RoundSummary", "format_table"]


@dataclass
class FeedReport:
    feed: str
    # ok | not_modified | error | deferred (host under Retry-After) | held (waits for the broker)
    outcome: str
    items: int = 0
    new: int = 0
    published: int = 0
    duplicates: int = 0
    reason: str | None = None
    detail: str = ""
    duration_s: float = 0.0
    next_poll_at: datetime | None = None


@dataclass
class RoundSummary:
    started_at: datetime
    feeds: list[FeedReport] = field(default_factory=list)
    bus_unavailable: bool = False
    bus_error: str | None = None

    def _count(self, outcome: str) -> int:
        return sum(1 for r in self.feeds if r.outcome == outcome)

    @property
    def polled(self) -> int:
        return sum(1 for r in self.feeds if r.outcome != "deferred")

    @property
    def errors(self) -> int:
        return self._count("error")

    @property
    def held(self) -> int:
        return self._count("held")

    @property
    def published(self) -> int:
        return sum(r.published for r in self.feeds)

    def report(self, feed: str) -> FeedReport | None:
        return next((r for r in self.feeds if r.feed == feed), None)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def format_table(summary: RoundSummary, out: TextIO) -> None:
    header = ("feed", "outcome", "items", "new", "published", "dups", "secs", "next poll", "error")
    rows = [
        (
            r.feed,
            r.outcome,
            str(r.items),
            str(r.new),
            str(r.published),
            str(r.duplicates),
            f"{r.duration_s:.2f}",
            _when(r.next_poll_at),
            f"{r.reason}: {r.detail}"[:80] if r.reason else "",
        )
        for r in sorted(summary.feeds, key=lambda r: r.feed)
    ]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header[:-1])]
    for row in (header, *rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
    out.write(
        f"{len(summary.feeds)} feed(s): {summary.polled} polled, {summary.errors} error(s), "
        f"{summary.published} article(s) published"
        + (
            f", {summary.held} held: broker unavailable ({summary.bus_error})"
            if summary.bus_unavailable
            else ""
        )
        + "\n"
    )
