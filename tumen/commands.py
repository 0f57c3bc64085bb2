"""Command handlers: each takes the parsed arguments and the runtime, returns an exit status.

Stage and model packages are imported inside the handlers so that e.g. ``tumen feeds list`` does
not load torch, and ``tumen classify`` opens no database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO, cast

from tumen.runtime import Runtime, install_stop_handlers
from tumen.storage.db import redact

__all__ = ["HANDLERS"]


def _db_upgrade(args: argparse.Namespace, rt: Runtime) -> int:
    rt.engine(migrate=True)
    print(f"database {redact(rt.settings.database.url)} is at the latest revision")
    return 0


def _run(args: argparse.Namespace, rt: Runtime) -> int:
    from consumers.pipeline import run_embedded

    install_stop_handlers(rt.stop)
    return run_embedded(rt)


def _serve(args: argparse.Namespace, rt: Runtime) -> int:
    from consumers.pipeline import serve

    install_stop_handlers(rt.stop)
    return serve(rt, args.service)


def _poll_once(args: argparse.Namespace, rt: Runtime) -> int:
    from producers.service import poll_once

    return poll_once(rt, out=sys.stdout)


def _open_io(stack: ExitStack, path: str | None, mode: str, default: TextIO) -> TextIO:
    if not path:
        return default
    return cast(TextIO, stack.enter_context(open(path, mode, encoding="utf-8")))


def _classify(args: argparse.Namespace, rt: Runtime) -> int:
    from models.classifier import EventModel
    from models.commands import classify_jsonl

    model = EventModel.load(rt.profile, num_threads=rt.settings.classifier.threads)
    with ExitStack() as stack:
        inp = _open_io(stack, args.input, "r", sys.stdin)
        out = _open_io(stack, args.output, "w", sys.stdout)
        failed = classify_jsonl(model, inp, out)
    if failed:
        print(f"tumen: {failed} line(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace, rt: Runtime) -> int:
    from models.classifier import EventModel
    from models.commands import evaluate_command

    model = EventModel.load(rt.profile, num_threads=rt.settings.classifier.threads)
    evaluate_command(model, Path(args.data), Path(args.json) if args.json else None, sys.stdout)
    return 0


def _train(args: argparse.Namespace, rt: Runtime) -> int:
    from models.classifier import default_artifact_path
    from models.commands import train_command
    from models.training import default_data_dir

    data = Path(args.data) if args.data else default_data_dir()
    out = Path(args.output) if args.output else default_artifact_path()
    reuse = Path(args.reuse_adapter) if args.reuse_adapter else None
    train_command(data, out, args.seed, finetune=args.finetune, reuse=reuse)
    return 0


def _replay(args: argparse.Namespace, rt: Runtime) -> int:
    from producers.replay import replay_file

    return replay_file(rt, Path(args.file), rate=args.rate)


def _feeds(args: argparse.Namespace, rt: Runtime) -> int:
    from producers import feeds_cli

    return feeds_cli.dispatch(args, rt, out=sys.stdout)


def _deadletter(args: argparse.Namespace, rt: Runtime) -> int:
    from consumers import deadletter

    return deadletter.dispatch(args, rt, out=sys.stdout)


HANDLERS: dict[str, Callable[[argparse.Namespace, Runtime], int]] = {
    "db upgrade": _db_upgrade,
    "run": _run,
    "serve": _serve,
    "poll": _poll_once,
    "classify": _classify,
    "evaluate": _evaluate,
    "train": _train,
    "replay": _replay,
    "feeds": _feeds,
    "deadletter": _deadletter,
}
