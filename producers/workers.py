"""Parsing and full-text extraction in worker processes, each bounded in time and memory.

feedparser's loose parser takes minutes and hundreds of megabytes on some malformed inputs of a
few megabytes, and a thread cannot be stopped. A worker process can: each job gets
``parse_timeout_s``, after which its worker is killed and replaced, and each worker runs under an
address-space limit of ``parse_memory_mb``. Either way the feed gets an error with a reason
(``parse_timeout``, ``too_much_memory``, ``parser_crashed``) and the round goes on.

Workers are started with "spawn" (never fork a process that runs Kafka and database threads),
lazily, and recycled after :data:`_TASKS_PER_WORKER` jobs so a big document's memory goes back.
With ``workers=0`` jobs run in the calling thread, without those bounds.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from producers.errors import FeedError, ProducerError

__all__ = ["WorkerPool", "run_job"]

log = logging.getLogger(__name__)

_TASKS_PER_WORKER = 500


def run_job(kind: str, job: Any) -> Any:
    """Dispatch a job by name; the imports happen in the worker."""
    if kind == "parse":
        from producers.parser import parse_feed

        return parse_feed(job)
    if kind == "extract":
        from producers.fulltext import extract_article

        return extract_article(job)
    raise ValueError(f"unknown job kind {kind!r}")


def _worker_main(conn: Connection, memory_mb: int) -> None:
    import resource
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    limit = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(
        resource.RLIMIT_AS, (limit, hard if hard != resource.RLIM_INFINITY else limit)
    )
    while True:
        try:
            kind, job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            reply: tuple[str, Any] = ("ok", run_job(kind, job))
        except ProducerError as exc:
            reply = ("err", exc)
        except MemoryError:
            reply = ("err", FeedError("too_much_memory", f"over {memory_mb} MB"))
        except Exception as exc:  # a bug or a parser crash on hostile input: report, keep serving
            reply = ("err", FeedError("parser_crashed", f"{type(exc).__name__}: {exc}"[:300]))
        conn.send(reply)


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: int = 0

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class WorkerPool:
    """Thread-safe: ``run`` blocks the calling thread until its job is done or timed out."""

    def __init__(self, *, workers: int, timeout_s: float, memory_mb: int) -> None:
        self._size = workers
        self._timeout_s = timeout_s
        self._memory_mb = memory_mb
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(workers):
            self._idle.put(None)  # a slot; the process starts on first use
        self._lock = threading.Lock()
        self._closed = False
        self._ctx = multiprocessing.get_context("spawn")

    @property
    def size(self) -> int:
        return self._size

    def run(self, kind: str, job: Any) -> Any:
        if self._size == 0:
            return run_job(kind, job)
        worker = self._idle.get()
        status, payload = "err", FeedError("parser_crashed", "worker did not start")
        try:
            worker = worker or self._start()
            status, payload = self._call(worker, kind, job)
            worker.tasks += 1
        except BaseException:
            if worker is not None:
                worker.stop()  # killed on timeout, or dead: its state is unknown
            worker = None
            raise
        finally:
            if worker is not None and (worker.tasks >= _TASKS_PER_WORKER or self._closed):
                worker.stop()  # recycled so a big document's memory goes back
                worker = None
            self._idle.put(worker)
        if status == "err":
            raise payload
        return payload

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        env_before = os.environ.get("OPENBLAS_NUM_THREADS")
        with self._lock:
            # numpy's BLAS would reserve address space per core; one thread is all a worker uses.
            os.environ["OPENBLAS_NUM_THREADS"] = "1"
            try:
                process = self._ctx.Process(
                    target=_worker_main,
                    args=(child, self._memory_mb),
                    daemon=True,
                    name="tumen-parse",
                )
                process.start()
            finally:
                if env_before is None:
                    os.environ.pop("OPENBLAS_NUM_THREADS", None)
                else:
                    os.environ["OPENBLAS_NUM_THREADS"] = env_before
        child.close()
        return _Worker(process, parent)

    def _call(self, worker: _Worker, kind: str, job: Any) -> tuple[str, Any]:
        try:
            worker.conn.send((kind, job))
            if not worker.conn.poll(self._timeout_s):
                raise FeedError("parse_timeout", f"no result within {self._timeout_s:g} s")
            status, payload = worker.conn.recv()
        except (EOFError, OSError) as exc:
            worker.process.join(timeout=1)
            code = worker.process.exitcode
            raise FeedError("parser_crashed", f"worker died (exit code {code})") from exc
        return str(status), payload

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.stop()
