"""``tumen feeds add|list|remove|import|export``.

Exit status: 0 done; 1 the action failed (unknown feed, unreadable OPML, some OPML entries
refused); 2 invalid input (bad URL, name or interval).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from producers.catalog import NewFeed, add_feed, list_feeds, remove_feed
from producers.errors import FeedManagementError, OpmlError
from producers.opml import ExportFeed, read_opml, write_opml
from tumen.runtime import Runtime
from tumen.schemas import utcnow
from tumen.storage import Feed

__all__ = ["dispatch"]

_USAGE_REASONS = frozenset({"bad_url", "bad_name", "bad_interval", "name_taken"})


def dispatch(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    action = {"add": _add, "list": _list, "remove": _remove, "import": _import, "export": _export}[
        args.feeds_action
    ]
    try:
        return action(args, rt, out)
    except FeedManagementError as exc:
        print(f"tumen: error: {exc.detail}", file=sys.stderr)
        return 2 if exc.reason in _USAGE_REASONS else 1
    except OpmlError as exc:
        print(f"tumen: error: {args.file}: {exc}", file=sys.stderr)
        return 1


def _add(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    new = NewFeed(url=args.url, name=args.name, interval_s=args.interval, full_text=args.full_text)
    feed, created = add_feed(rt.engine(), new, settings=rt.settings.producer, now=utcnow())
    out.write(f"{'added' if created else 'already present'}: {feed.name} {feed.url}\n")
    return 0


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _row(f: Feed) -> tuple[str, ...]:
    interval = (
        str(f.interval_s)
        if f.interval_s
        else (f"auto ({f.observed_interval_s / 2:.0f})" if f.observed_interval_s else "default")
    )
    state = "enabled" if f.enabled else "disabled"
    error = f"{f.consecutive_errors}x {f.last_error}"[:60] if f.consecutive_errors else ""
    return (
        f.name,
        state,
        f.origin,
        interval,
        _when(f.last_success_at),
        _when(f.last_new_item_at),
        _when(f.next_poll_at),
        str(f.items_seen),
        str(f.articles_published),
        error,
    )


def _list(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    header = (
        "name",
        "state",
        "origin",
        "interval_s",
        "last success",
        "last new item",
        "next poll",
        "seen",
        "published",
        "last error",
    )
    rows = [_row(f) for f in list_feeds(rt.engine())]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for row in (header, *rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"{len(rows)} feed(s)\n")
    return 0


def _remove(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    name, tombstoned = remove_feed(rt.engine(), args.feed, now=utcnow())
    note = " (a profile feed: kept as removed so the profile does not add it back)"
    out.write(f"removed: {name}{note if tombstoned else ''}\n")
    return 0


def _import(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise OpmlError("unreadable", exc.strerror or str(exc)) from exc
    added = present = refused = 0
    engine, settings, now = rt.engine(), rt.settings.producer, utcnow()
    for entry in read_opml(data):
        new = NewFeed(
            url=entry.url, interval_s=entry.interval_s, full_text=entry.full_text, origin="opml"
        )
        try:
            _feed, created = add_feed(engine, new, settings=settings, now=now, title=entry.title)
        except FeedManagementError as exc:
            refused += 1
            print(f"tumen: skipped {entry.url[:200]}: {exc.detail}", file=sys.stderr)
            continue
        added, present = added + created, present + (not created)
    out.write(f"imported {added} feed(s), {present} already present, {refused} refused\n")
    return 1 if refused else 0


def _export(args: argparse.Namespace, rt: Runtime, out: TextIO) -> int:
    feeds = [
        ExportFeed(f.name, f.url, f.interval_s, bool(f.full_text)) for f in list_feeds(rt.engine())
    ]
    data = write_opml(feeds)
    if args.output:
        Path(args.output).write_bytes(data)
        out.write(f"exported {len(feeds)} feed(s) to {args.output}\n")
    else:
        out.write(data.decode("utf-8"))
    return 0
