"""Wiring: one stage per ``tumen serve`` process, or all of them in one ``tumen run`` process.

There is one implementation of each stage. ``tumen run`` runs the same stage loops in threads
over whichever bus the configuration names (the durable embedded bus by default), so the
embedded pipeline and the Kafka services cannot drift apart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from consumers.alerter import AlerterStage
from consumers.classifier import ClassifierStage
from consumers.loop import LoopSettings, Stage, StageLoop
from consumers.rules import load_rules
from consumers.store import StoreStage
from consumers.webhook import Webhook
from tumen.runtime import Runtime
from tumen.schemas import Article, Event

if TYPE_CHECKING:
    from models.classifier import EventModel

__all__ = ["ModelAdapter", "build_stage", "run_embedded", "serve"]

log = logging.getLogger(__name__)


class ModelAdapter:
    """Feeds articles to the event model as documents (title + content, else summary)."""

    def __init__(self, model: EventModel, *, on_passages: Callable[[int], None]) -> None:
        self._model = model
        self._on_passages = on_passages
        self.model_version: str = model.model_version

    def classify_articles(self, articles: Sequence[Article]) -> list[list[Event]]:
        from models.classifier import Document

        docs = [Document(id=a.id, text=a.text, title=a.title) for a in articles]
        before = self._model.passages_total
        found = self._model.classify(docs)
        self._on_passages(self._model.passages_total - before)
        return found


def _load_model(rt: Runtime) -> ModelAdapter:
    from models.classifier import EventModel

    art = rt.settings.classifier.artifact
    model = EventModel.load(
        rt.profile,
        artifact_path=Path(art) if art else None,
        num_threads=rt.settings.classifier.threads,
    )
    rt.metrics.set_build(model_version=model.model_version)
    log.info("model loaded model_version=%s", model.model_version)
    return ModelAdapter(model, on_passages=rt.metrics.passages_classified.inc)


def build_stage(rt: Runtime, service: str) -> Stage:
    if service == "classifier":
        return ClassifierStage(model=_load_model(rt), profile=rt.profile, metrics=rt.metrics)
    if service == "store":
        return StoreStage(engine=rt.engine(), metrics=rt.metrics)
    if service == "alerter":
        a = rt.settings.alerter
        hook = Webhook(settings=a, metrics=rt.metrics) if a.webhook_url else None
        return AlerterStage(
            engine=rt.engine(), rules=load_rules(rt.profile), metrics=rt.metrics, webhook=hook
        )
    raise ValueError(f"unknown service {service!r}")


def _loop(rt: Runtime, stage: Stage) -> StageLoop:
    bus = rt.bus()
    c = rt.settings.classifier
    batch = c.batch_size if stage.name == "classifier" else rt.settings.kafka.max_poll_records
    return StageLoop(
        stage=stage,
        consumer=bus.consumer(group=stage.group, topics=list(stage.topics)),
        producer=bus.producer(),
        metrics=rt.metrics,
        health=rt.health,
        settings=LoopSettings(batch_size=batch, max_wait_s=c.max_wait_ms / 1000),
    )


def serve(rt: Runtime, service: str) -> int:
    """``tumen serve SERVICE``: one long-lived service until SIGTERM."""
    rt.serve_metrics()
    rt.bus()  # waits for the broker and creates the topics
    if service == "producer":
        from producers.service import build_service

        producer = build_service(rt)
        rt.health.ready = True
        rt.metrics.up.labels("producer").set(1)
        try:
            producer.run_forever(rt.stop, rt.health)
        finally:
            rt.metrics.up.labels("producer").set(0)
        return 0
    _loop(rt, build_stage(rt, service)).run(rt.stop)
    return 0


def run_embedded(rt: Runtime) -> int:
    """``tumen run``: producer, classifier, store and alerter in one process."""
    from producers.service import build_service

    rt.engine()  # migrate before anything reads or writes
    port = rt.serve_metrics()
    rt.bus()
    loops = [_loop(rt, build_stage(rt, name)) for name in ("store", "alerter", "classifier")]
    producer = build_service(rt)
    threads = [
        threading.Thread(target=lp.run, args=(rt.stop,), name=f"stage-{i}", daemon=True)
        for i, lp in enumerate(loops)
    ]
    threads.append(
        threading.Thread(
            target=producer.run_forever, args=(rt.stop, rt.health), name="producer", daemon=True
        )
    )
    for t in threads:
        t.start()
    log.info(
        "tumen run: pipeline started (bus=%s, metrics port %d); Ctrl-C stops it",
        rt.bus().kind,
        port,
    )
    rt.health.ready = True
    status = 0
    try:
        while not rt.stop.wait(1.0):
            if not all(t.is_alive() for t in threads):
                log.error("a pipeline thread died; stopping")
                status = 1
                break
    finally:
        # Stop and join every stage before the runtime closes the bus and the database.
        rt.stop.set()
        for t in threads:
            t.join(timeout=30)
    log.info("tumen run: stopped %s", "cleanly" if status == 0 else "after a failure")
    return status
