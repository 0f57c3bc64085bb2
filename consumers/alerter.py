"""Alerter stage: ``tumen.classified.v1`` → rules → ``alerts`` table, ``tumen.alerts.v1``, webhook.

Idempotent per article: observations are keyed by article, and an alert's ``source_articles``
records which articles it has counted, so a re-delivered message neither fires nor counts twice.
If the process died after the database commit but before the alert reached the topic, the
re-delivery re-emits that alert (``article_id`` is the article that caused the last
notification): notifications are at-least-once, never lost.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from consumers.loop import BatchResult
from consumers.rules import EventRule, RateRule, SpikeRule
from consumers.webhook import Webhook
from tumen.bus import Outgoing, Record
from tumen.bus.base import TOPICS
from tumen.errors import SchemaError, StorageUnavailable
from tumen.metrics import Metrics
from tumen.schemas import Alert, Classified, Event, decode_classified, encode
from tumen.storage import Alert as AlertRow
from tumen.storage import session_factory
from tumen.storage.db import as_utc
from tumen.storage.tables import AlertArticle, AlertObservation

__all__ = ["AlerterStage", "dedup_key"]

log = logging.getLogger(__name__)
AnyRule = EventRule | RateRule | SpikeRule


def dedup_key(rule: str, *parts: str) -> str:
    """Readable where short, hashed where long (the column holds 200 characters)."""
    key = ":".join([rule, *parts])
    return key if len(key) <= 200 else f"{rule}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def _max_quantity(event: Event) -> float | None:
    values = [q.value for q in event.quantities if q.value is not None]
    return max(values) if values else None


@dataclass
class _Fire:
    rule: AnyRule
    key: str
    event: Event
    reason: str


class AlerterStage:
    name = "alerter"
    group = "tumen-alerter"
    topics: tuple[str, ...] = (TOPICS["classified"],)
    model_version = "-"

    def __init__(
        self,
        *,
        engine: Engine,
        rules: list[AnyRule],
        metrics: Metrics,
        webhook: Webhook | None = None,
    ) -> None:
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self._rules = rules
        self._metrics = metrics
        self._webhook = webhook

    def handle(self, records: list[Record]) -> BatchResult:
        result = BatchResult()
        for rec in records:
            try:
                msg = decode_classified(rec.value)
            except SchemaError as exc:
                result.failed.append((rec, exc))
                continue
            alerts = self._apply(msg)
            for alert in alerts:
                result.outputs.append(
                    Outgoing(TOPICS["alerts"], value=encode(alert), key=alert.dedup_key.encode())
                )
                self._metrics.alerts.labels(alert.rule, alert.severity).inc()
                if self._webhook is not None:
                    self._webhook.deliver(alert)
        return result

    def _apply(self, msg: Classified) -> list[Alert]:
        try:
            with self._sessions.begin() as s:
                return self._evaluate(s, msg)
        except OperationalError as exc:
            raise StorageUnavailable(f"alerter database unavailable: {exc.orig}") from exc

    def _evaluate(self, s: Session, msg: Classified) -> list[Alert]:
        now = msg.article.fetched_at
        self._observe(s, msg)
        fires: list[_Fire] = []
        for rule in self._rules:
            if isinstance(rule, EventRule):
                fires.extend(self._event_fires(rule, msg))
            elif isinstance(rule, RateRule):
                fires.extend(self._rate_fires(s, rule, msg, now))
            else:
                fires.extend(self._spike_fires(s, rule, msg, now))
        alerts = []
        for fire in fires:
            alert = self._record(s, fire, msg.article.id, now)
            if alert is not None:
                alerts.append(alert)
        return alerts

    # -- state ----------------------------------------------------------------------------
    def _observe(self, s: Session, msg: Classified) -> None:
        aid, at = msg.article.id, msg.article.fetched_at
        if s.get(AlertArticle, aid) is None:
            s.add(AlertArticle(article_id=aid, observed_at=at))
        keys = {(e.type, actor) for e in msg.events for actor in ["*", *e.actors]}
        for etype, actor in sorted(keys):
            if s.get(AlertObservation, (aid, etype, actor[:100])) is None:
                s.add(
                    AlertObservation(article_id=aid, type=etype, actor=actor[:100], observed_at=at)
                )
        s.flush()

    def _count(
        self, s: Session, types: list[str], actor: str, start: datetime, end: datetime
    ) -> int:
        q = select(func.count(func.distinct(AlertObservation.article_id))).where(
            AlertObservation.type.in_(types),
            AlertObservation.actor == actor,
            AlertObservation.observed_at > start,
            AlertObservation.observed_at <= end,
        )
        return int(s.scalar(q) or 0)

    def _articles(self, s: Session, start: datetime, end: datetime) -> int:
        q = select(func.count()).where(
            AlertArticle.observed_at > start, AlertArticle.observed_at <= end
        )
        return int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)

    # -- rules ----------------------------------------------------------------------------
    def _event_fires(self, rule: EventRule, msg: Classified) -> list[_Fire]:
        out = []
        for e in msg.events:
            if rule.matches(e):
                d = e.direction
                direction = f"{d.source or '?'}>{d.target or '?'}" if d else "-"
                key = dedup_key(rule.name, e.type, "+".join(sorted(e.actors)), direction)
                out.append(_Fire(rule, key, e, f"{e.type} ({e.confidence:.2f}) matched"))
        return out

    def _rate_fires(
        self, s: Session, rule: RateRule, msg: Classified, now: datetime
    ) -> list[_Fire]:
        actor = rule.actor or "*"
        hits = [
            e
            for e in msg.events
            if e.type in rule.types and (rule.actor is None or rule.actor in e.actors)
        ]
        if not hits:
            return []
        n = self._count(s, rule.types, actor, now - timedelta(seconds=rule.window), now)
        if n < rule.min_events:
            return []
        key = dedup_key(rule.name, ",".join(rule.types), actor)
        return [_Fire(rule, key, hits[0], f"{n} articles within {rule.window:.0f}s")]

    def _spike_fires(
        self, s: Session, rule: SpikeRule, msg: Classified, now: datetime
    ) -> list[_Fire]:
        hits = [e for e in msg.events if e.type in rule.types]
        if not hits:
            return []
        w_start = now - timedelta(seconds=rule.window)
        b_start = w_start - timedelta(seconds=rule.baseline)
        n_win = self._count(s, rule.types, "*", w_start, now)
        if n_win < rule.min_events:
            return []
        share = n_win / max(1, self._articles(s, w_start, now))
        base = self._count(s, rule.types, "*", b_start, w_start) / max(
            1, self._articles(s, b_start, w_start)
        )
        if share < rule.factor * max(base, rule.min_baseline_share):
            return []
        key = dedup_key(rule.name, ",".join(rule.types))
        reason = f"share {share:.3f} vs baseline {base:.3f} ({n_win} articles in window)"
        return [_Fire(rule, key, hits[0], reason)]

    # -- dedup, cooldown, re-notification -------------------------------------------------
    def _record(self, s: Session, fire: _Fire, article_id: str, now: datetime) -> Alert | None:
        row = s.scalar(select(AlertRow).where(AlertRow.dedup_key == fire.key).with_for_update())
        qty = _max_quantity(fire.event)
        event_json = fire.event.model_dump(mode="json", by_alias=True)
        if row is None:
            s.add(
                AlertRow(
                    dedup_key=fire.key,
                    rule=fire.rule.name,
                    severity=fire.rule.severity,
                    status="open",
                    article_id=article_id,
                    event=event_json,
                    reason=fire.reason,
                    sources=1,
                    source_articles=[article_id],
                    max_quantity=qty,
                    notifications=1,
                    fired_at=now,
                    last_notified_at=now,
                    updated_at=now,
                )
            )
            return self._alert(fire, article_id, now, 1, fire.reason)
        if article_id in row.source_articles:
            # Re-delivery: re-emit only if this article caused the last notification.
            if row.article_id == article_id:
                return self._alert(
                    fire, article_id, as_utc(row.last_notified_at) or now, row.sources, row.reason
                )
            return None
        fired_at = as_utc(row.fired_at) or now
        if now - fired_at > timedelta(seconds=fire.rule.cooldown):
            self._reset(row, fire, article_id, now, qty, event_json)
            return self._alert(fire, article_id, now, 1, fire.reason)
        return self._update(row, fire, article_id, now, qty, event_json)

    def _reset(
        self,
        row: AlertRow,
        fire: _Fire,
        article_id: str,
        now: datetime,
        qty: float | None,
        event_json: dict[str, object],
    ) -> None:
        row.status, row.article_id, row.event, row.reason = (
            "open",
            article_id,
            event_json,
            fire.reason,
        )
        row.sources, row.source_articles, row.max_quantity = 1, [article_id], qty
        row.notifications += 1
        row.fired_at = row.last_notified_at = row.updated_at = now

    def _update(
        self,
        row: AlertRow,
        fire: _Fire,
        article_id: str,
        now: datetime,
        qty: float | None,
        event_json: dict[str, object],
    ) -> Alert | None:
        row.sources += 1
        row.source_articles = [*row.source_articles, article_id][-500:]
        row.updated_at = now
        thresholds = fire.rule.renotify_sources if isinstance(fire.rule, EventRule) else []
        more_sources = row.sources in thresholds
        larger = qty is not None and (row.max_quantity is None or qty > row.max_quantity)
        if larger:
            row.max_quantity = qty
        if not (more_sources or larger):
            return None
        reason = f"now {row.sources} sources" if more_sources else f"larger quantity {qty:g}"
        row.article_id, row.event, row.reason = article_id, event_json, reason
        row.notifications += 1
        row.last_notified_at = now
        return self._alert(fire, article_id, now, row.sources, reason)

    def _alert(
        self, fire: _Fire, article_id: str, at: datetime, sources: int, reason: str
    ) -> Alert:
        return Alert(
            rule=fire.rule.name,
            severity=fire.rule.severity,
            dedup_key=fire.key,
            fired_at=at,
            event=fire.event,
            article_id=article_id,
            sources=sources,
            reason=reason,
        )
