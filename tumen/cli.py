"""``tumen``: the one command line. It wires stages to configuration, bus and storage.

Exit status: 0 ok, 1 runtime failure (e.g. Kafka or the database unreachable after the configured
wait, or some input lines failed), 2 usage or configuration error (one line, never a traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from tumen import __version__
from tumen.config import load_settings
from tumen.errors import (
    BusUnavailable,
    ConfigError,
    StorageUnavailable,
    TumenError,
)
from tumen.logs import setup_logging
from tumen.runtime import Runtime

__all__ = ["build_parser", "main"]

log = logging.getLogger("tumen")

Handler = Callable[[argparse.Namespace, Runtime], int]


def _commands() -> dict[str, Handler]:
    from tumen import commands

    return commands.HANDLERS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tumen", description="Event-streaming news monitoring: feeds → events → alerts."
    )
    p.add_argument("--version", action="version", version=f"tumen {__version__}")
    p.add_argument("--config", help="YAML configuration file (default: $TUMEN_CONFIG)")
    p.add_argument("--profile", help="watch profile YAML (default: the shipped dprk-russia)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("run", help="everything in one process on embedded defaults (SQLite, no Kafka)")
    serve = sub.add_parser("serve", help="one long-lived service on Kafka")
    serve.add_argument("service", choices=["producer", "classifier", "store", "alerter"])
    poll = sub.add_parser("poll", help="poll the feeds that are due")
    poll.add_argument("--once", action="store_true", required=True, help="one round, then exit")

    classify = sub.add_parser("classify", help="classify JSONL passages (id, text[, title])")
    classify.add_argument("--input", help="input JSONL (default: stdin)")
    classify.add_argument("--output", help="output JSONL (default: stdout)")
    evaluate = sub.add_parser("evaluate", help="precision/recall/F1 on labelled JSONL")
    evaluate.add_argument("--data", required=True, help="labelled JSONL: text, labels")
    evaluate.add_argument("--json", help="also write the figures as JSON here")
    train = sub.add_parser("train", help="train the event model from models/data")
    train.add_argument("--data", help="directory of training JSONL (default: models/data)")
    train.add_argument("--output", help="artifact path (default: the shipped artifact)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--finetune",
        action="store_true",
        help="fine-tune the encoder with a low-rank adapter first (about 15 min on 2 cores)",
    )
    train.add_argument(
        "--reuse-adapter",
        metavar="ARTIFACT",
        help="take the encoder adapter from this artifact and refit the head only",
    )

    replay = sub.add_parser("replay", help="publish archived articles (JSONL) into the pipeline")
    replay.add_argument("file")
    replay.add_argument("--rate", type=float, default=0.0, help="articles per second (0: max)")

    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])

    feeds = sub.add_parser("feeds", help="manage the feeds table")
    fsub = feeds.add_subparsers(dest="feeds_action", metavar="ACTION", required=True)
    add = fsub.add_parser("add", help="add a feed")
    add.add_argument("url")
    add.add_argument("--name")
    add.add_argument("--interval", type=int, help="poll interval in seconds")
    add.add_argument("--full-text", action="store_true")
    fsub.add_parser("list", help="status per feed")
    rm = fsub.add_parser("remove", help="remove a feed (by name or URL)")
    rm.add_argument("feed")
    imp = fsub.add_parser("import", help="import an OPML file")
    imp.add_argument("file")
    exp = fsub.add_parser("export", help="export the feeds as OPML")
    exp.add_argument("--output", help="file (default: stdout)")

    dl = sub.add_parser("deadletter", help="inspect and re-inject dead-lettered messages")
    dsub = dl.add_subparsers(dest="dl_action", metavar="ACTION", required=True)
    dlist = dsub.add_parser("list", help="show dead-lettered messages")
    dlist.add_argument("--limit", type=int, default=50)
    drep = dsub.add_parser("replay", help="re-inject dead-lettered messages to their topic")
    drep.add_argument("--stage", help="only messages dead-lettered by this stage")
    return p


def _key(args: argparse.Namespace) -> str:
    parts = [args.command]
    for attr in ("service", "action", "feeds_action", "dl_action"):
        value = getattr(args, attr, None)
        if value:
            parts.append(value)
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        if args.profile:
            settings = settings.model_copy(update={"profile": args.profile})
        setup_logging(args.log_level or settings.log_level)
        runtime = Runtime(settings=settings)
        if settings.profile:
            runtime.profile  # noqa: B018  fail fast on a bad --profile, before any work
        handler = _commands().get(_key(args)) or _commands()[args.command]
        try:
            return handler(args, runtime)
        finally:
            runtime.close()
    except ConfigError as exc:
        print(f"tumen: error: {exc}", file=sys.stderr)
        return 2
    except (BusUnavailable, StorageUnavailable) as exc:
        print(f"tumen: error: {exc}", file=sys.stderr)
        return 1
    except TumenError as exc:
        print(f"tumen: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tumen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
