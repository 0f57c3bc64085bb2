"""Webhook delivery of alerts: a JSON POST (or a Slack-compatible payload), with a timeout and
bounded retries. A webhook that stays down is counted and logged; it never stalls the pipeline
(the alert is already in the table and on ``tumen.alerts.v1``)."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from tumen.config import AlerterSettings
from tumen.metrics import Metrics
from tumen.schemas import Alert

__all__ = ["Webhook", "payload"]

log = logging.getLogger(__name__)


def payload(alert: Alert, fmt: str) -> dict[str, Any]:
    body: dict[str, Any] = alert.model_dump(mode="json", by_alias=True)
    if fmt != "slack":
        return body
    e = alert.event
    actors = ", ".join(e.actors) or "unknown actors"
    text = (
        f"*[{alert.severity.upper()}] {alert.rule}*: {e.type} — {actors} "
        f"({alert.sources} source(s)); {alert.reason}\n> {e.evidence[:500]}"
    )
    return {"text": text}


class Webhook:
    def __init__(
        self,
        *,
        settings: AlerterSettings,
        metrics: Metrics,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        assert settings.webhook_url
        self._url = settings.webhook_url
        self._settings = settings
        self._metrics = metrics
        self._client = httpx.Client(timeout=settings.webhook_timeout_s, transport=transport)

    def deliver(self, alert: Alert) -> bool:
        body = payload(alert, self._settings.webhook_format)
        for attempt in range(self._settings.webhook_retries + 1):
            try:
                resp = self._client.post(self._url, json=body)
                if resp.status_code < 300:
                    return True
                log.warning("webhook status=%d attempt=%d", resp.status_code, attempt + 1)
            except httpx.HTTPError as exc:
                log.warning("webhook error=%s attempt=%d", type(exc).__name__, attempt + 1)
            time.sleep(min(5.0, 0.2 * 2**attempt))
        self._metrics.webhook_failures.inc()
        return False

    def close(self) -> None:
        self._client.close()
