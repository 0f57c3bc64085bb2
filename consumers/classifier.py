"""Classifier stage: articles → passages → model → events, published as ``tumen.classified.v1``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from consumers.errors import PoisonMessage
from consumers.loop import BatchResult
from tumen.bus import Outgoing, Record
from tumen.bus.base import TOPICS
from tumen.errors import SchemaError
from tumen.metrics import Metrics
from tumen.profile import Profile
from tumen.schemas import Article, Classified, Event, decode_article, encode, utcnow

__all__ = ["ClassifierStage", "Model", "watch_pairs_of"]

log = logging.getLogger(__name__)


class Model(Protocol):
    """What the stage needs of ``models.classifier.EventModel``."""

    model_version: str

    def classify_articles(self, articles: Sequence[Article]) -> list[list[Event]]: ...


def watch_pairs_of(event: Event, profile: Profile) -> list[str]:
    """Names of the profile's watch pairs whose two actors both appear in the event."""
    actors = set(event.actors)
    return [p.name for p in profile.watch_pairs if set(p.actors) <= actors]


class ClassifierStage:
    name = "classifier"
    group = "tumen-classifier"
    topics: tuple[str, ...] = (TOPICS["articles"],)

    def __init__(self, *, model: Model, profile: Profile, metrics: Metrics) -> None:
        self._model = model
        self._profile = profile
        self._metrics = metrics
        # Create every series at 0, so rate()/increase() see the first event and dashboards
        # show zeros instead of "no data".
        for etype in profile.type_names:
            metrics.events.labels(etype)
            for pair in profile.watch_pairs:
                metrics.watch_events.labels(etype, pair.name)

    @property
    def model_version(self) -> str:
        return self._model.model_version

    def handle(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        good: list[tuple[Record, Article]] = []
        for rec in records:
            try:
                good.append((rec, decode_article(rec.value)))
            except SchemaError as exc:
                result.failed.append((rec, exc))
        for (_rec, article), events in self._classify(good, result):
            msg = Classified(
                article=article,
                events=events,
                model_version=self.model_version,
                classified_at=utcnow(),
            )
            result.outputs.append(
                Outgoing(TOPICS["classified"], value=encode(msg), key=article.id.encode())
            )
            self._count(events)
        return result

    def _classify(
        self, good: list[tuple[Record, Article]], result: BatchResult
    ) -> list[tuple[tuple[Record, Article], list[Event]]]:
        if not good:
            return []
        started = time.perf_counter()
        try:
            found = self._model.classify_articles([a for _, a in good])
            pairs = list(zip(good, found, strict=True))
        except Exception:
            log.warning("batch classification raised; retrying article by article")
            pairs = []
            for item in good:
                try:
                    pairs.append((item, self._model.classify_articles([item[1]])[0]))
                except Exception as exc:
                    result.failed.append((item[0], PoisonMessage(f"{type(exc).__name__}: {exc}")))
        self._metrics.classify_batch_duration.observe(time.perf_counter() - started)
        self._metrics.articles_classified.inc(len(pairs))
        return pairs

    def _count(self, events: list[Event]) -> None:
        for event in events:
            self._metrics.events.labels(event.type).inc()
            for pair in watch_pairs_of(event, self._profile):
                self._metrics.watch_events.labels(event.type, pair).inc()
