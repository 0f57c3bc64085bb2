"""Every Tumen metric, created on an injected registry, and the HTTP endpoint that serves them.

Names and labels are the contract of architecture.md; label values stay bounded (feed names,
event types, rule names — never URLs or article ids). The endpoint also answers ``/healthz``
(liveness: the process loop is turning) and ``/readyz`` (readiness: connected and consuming).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from tumen import __version__

__all__ = ["Health", "Metrics", "MetricsServer"]

# The *_created series double the exposition size and no rule or panel uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
_BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


@dataclass
class Metrics:
    """All metrics of one process. Pass a fresh ``CollectorRegistry()`` in tests."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.feed_polls = Counter(
            "tumen_feed_polls", "Feed polls by outcome.", ["feed", "outcome"], registry=r
        )
        self.feed_poll_errors = Counter(
            "tumen_feed_poll_errors", "Failed polls by reason.", ["feed", "reason"], registry=r
        )
        self.feed_poll_duration = Histogram(
            "tumen_feed_poll_duration_seconds",
            "Time to fetch and parse one feed.",
            buckets=_POLL_BUCKETS,
            registry=r,
        )
        self.feed_last_success = Gauge(
            "tumen_feed_last_success_timestamp_seconds",
            "Last successful poll.",
            ["feed"],
            registry=r,
        )
        self.feed_last_new_item = Gauge(
            "tumen_feed_last_new_item_timestamp_seconds",
            "Last time a feed had a new item.",
            ["feed"],
            registry=r,
        )
        self.feed_expected_interval = Gauge(
            "tumen_feed_expected_interval_seconds",
            "How often the feed publishes (observed), for staleness relative to its own cadence.",
            ["feed"],
            registry=r,
        )
        self.feed_items_seen = Counter(
            "tumen_feed_items_seen", "Items read from a feed (new or not).", ["feed"], registry=r
        )
        self.articles_published = Counter(
            "tumen_articles_published", "New articles published.", ["feed"], registry=r
        )
        self.articles_duplicate = Counter(
            "tumen_articles_duplicate", "Items recognised as duplicates.", ["feed"], registry=r
        )
        self.fulltext_failures = Counter(
            "tumen_fulltext_failures",
            "Full-text fetches that fell back to the summary.",
            ["feed"],
            registry=r,
        )
        self.passages_classified = Counter(
            "tumen_passages_classified", "Passages run through the model.", registry=r
        )
        self.articles_classified = Counter(
            "tumen_articles_classified", "Articles classified.", registry=r
        )
        self.classify_batch_duration = Histogram(
            "tumen_classify_batch_duration_seconds",
            "Model time per batch.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.events = Counter("tumen_events", "Events found, by type.", ["type"], registry=r)
        self.watch_events = Counter(
            "tumen_watch_events",
            "Events between a watched actor pair.",
            ["type", "pair"],
            registry=r,
        )
        self.store_writes = Counter(
            "tumen_store_writes", "Store writes by kind.", ["kind"], registry=r
        )
        self.store_errors = Counter(
            "tumen_store_errors", "Failed store transactions by reason.", ["reason"], registry=r
        )
        self.deadletter = Counter(
            "tumen_deadletter",
            "Messages sent to the dead-letter topic.",
            ["stage", "reason"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "tumen_consumer_lag",
            "Messages behind the end of the partition.",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.pipeline_latency = Histogram(
            "tumen_pipeline_latency_seconds",
            "From fetched to stored.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.alerts = Counter(
            "tumen_alerts", "Alerts fired (and re-notified).", ["rule", "severity"], registry=r
        )
        self.webhook_failures = Counter(
            "tumen_webhook_failures", "Webhook deliveries that failed after retries.", registry=r
        )
        self.bus_errors = Counter(
            "tumen_bus_errors", "Transient bus failures (retried).", ["stage"], registry=r
        )
        self.build_info = Info("tumen_build", "Version of Tumen and of its model.", registry=r)
        self.up = Gauge(
            "tumen_service_up", "1 while the service loop runs.", ["service"], registry=r
        )
        self.set_build(model_version="none")

    def set_build(self, *, model_version: str) -> None:
        self.build_info.info({"version": __version__, "model_version": model_version})


@dataclass
class Health:
    """Liveness: ``beat()`` is called from the main loop. Readiness: set by the service."""

    stale_after_s: float = 120.0
    ready: bool = False
    _last_beat: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    @property
    def alive(self) -> bool:
        return time.monotonic() - self._last_beat < self.stale_after_s


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one port, in a daemon thread."""

    def __init__(self, *, metrics: Metrics, health: Health, host: str, port: int) -> None:
        handler = _handler(metrics.registry, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: CollectorRegistry, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.alive
                self._reply(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
            elif path == "/readyz":
                ok = health.ready and health.alive
                self._reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are too frequent to log."""

    return Handler
