"""A real Prometheus (Debian's, via deploy/prometheus/run-local) with the shipped rules and a
config derived from the shipped prometheus.yml, scraping a real `tumen run` that polls a local
feed carrying a report of North Korean shells shipped to Russia; a real Alertmanager with the
shipped routing, its receivers pointed at a local webhook. Checked through the HTTP APIs: the
contract metrics are there, the rules evaluate, and the watched-pair alert fires and is routed
to the analysts."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.feedserver import FeedServer
from tests.support.services import TumenProcess, free_port, wait_until
from tumen.profile import default_profile_path

from .helpers import DEPLOY, run_tool

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALERT = "TumenWatchedArmsOrTroopEvent"
# architecture.md's metric contract, and the series the rules and dashboards rely on.
CONTRACT = [
    "tumen_feed_polls_total",
    "tumen_feed_poll_duration_seconds",
    "tumen_articles_published_total",
    "tumen_articles_duplicate_total",
    "tumen_passages_classified_total",
    "tumen_classify_batch_duration_seconds",
    "tumen_events_total",
    "tumen_store_writes_total",
    "tumen_deadletter_total",
    "tumen_consumer_lag",
    "tumen_pipeline_latency_seconds",
    "tumen_alerts_total",
    "tumen_build_info",
    "tumen_watch_events_total",
    "tumen_feed_last_success_timestamp_seconds",
    "tumen_feed_last_new_item_timestamp_seconds",
    "tumen_feed_expected_interval_seconds",
    "tumen_service_up",
    "tumen_store_errors_total",
    "tumen_articles_classified_total",
]

# Our own words; a plain, unambiguous report of an arms transfer between a watched pair.
REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Local wire</title><link>http://127.0.0.1/</link>
<description>Test wire</description>
<item><title>North Korea sends artillery shells to Russia by rail</title>
<link>http://127.0.0.1/news/shells-by-rail</link><guid>shells-by-rail-1</guid>
<pubDate>{date}</pubDate>
<description>{summary}</description>
</item></channel></rss>"""
SUMMARY = (  # one line, as feeds carry it
    "North Korea has shipped about 20,000 containers of artillery shells to Russia, South Korean"
    " intelligence officials said on Friday. The ammunition crossed the border by rail at the"
    " Tumen River and was delivered to Russian forces for use in Ukraine."
)


@dataclass
class Webhook:
    """Alertmanager's receivers, all pointed here: what was POSTed, by path."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    data = _get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return list(data["data"]["result"])


def _local_alertmanager_config(hook_url: str, path: Path) -> None:
    """The shipped routing with every receiver delivering to the local webhook only (tests
    connect to 127.0.0.1 and nowhere else) and short waits."""
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        receiver.pop("email_configs", None)
        receiver["webhook_configs"] = [{"url": f"{hook_url}/{receiver['name']}"}]

    def shorten(route: dict[str, Any]) -> None:
        route.update({"group_wait": "1s", "group_interval": "2s"})
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    path.write_text(yaml.safe_dump(config))


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Webhook]]:
    run_tool("amtool", "--version")  # installs the Debian package if missing
    hook = Webhook()
    server = hook.serve()
    config = tmp_path / "alertmanager.yml"
    _local_alertmanager_config(f"http://127.0.0.1:{server.server_address[1]}", config)
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port on 0.0.0.0
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(f"{url}/-/ready"), timeout_s=30, what="Alertmanager")
        yield f"127.0.0.1:{port}", hook
    finally:
        proc.terminate()
        proc.wait(15)
        server.shutdown()
        log.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _run_local(*args: str, env: dict[str, str]) -> str:
    r = subprocess.run(
        ["bash", str(DEPLOY / "prometheus" / "run-local"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def _tumen(tmp_path: Path, feed_url: str) -> TumenProcess:
    profile = yaml.safe_load(default_profile_path().read_text(encoding="utf-8"))
    profile["feeds"] = [{"name": "local-wire", "url": feed_url}]
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(profile, allow_unicode=True))
    config = {
        "embedded": {"path": str(tmp_path / "bus" / "bus.sqlite3")},
        "producer": {"interval_s": 10, "min_interval_s": 5, "parse_workers": 0},
        "classifier": {"max_wait_ms": 100},
    }
    (tmp_path / "tumen.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUMEN_")}
    env |= {
        "TUMEN_DATABASE_URL": f"sqlite:///{tmp_path / 'tumen.db'}",
        "TUMEN_ALLOW_PRIVATE_ADDRESSES": "true",
    }
    args = ("--config", str(tmp_path / "tumen.yaml"), "--profile", str(tmp_path / "profile.yaml"))
    return TumenProcess(*args, "run", env=env, cwd=tmp_path, name="tumen-run")


def test_prometheus_scrapes_tumen_evaluates_rules_and_raises_the_watched_alert(
    tmp_path: Path, alertmanager: tuple[str, Webhook]
) -> None:
    am_address, hook = alertmanager
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    with FeedServer() as feeds:
        feed_url = feeds.add("/wire.xml", body=REPORT.format(date=date, summary=SUMMARY).encode())
        tumen = _tumen(tmp_path, feed_url)
        # Prometheus first, so that it sees Tumen's counters from their first values.
        prom_env = {
            **os.environ,
            "PROM_STATE": str(tmp_path / "prometheus"),
            "PROM_PORT": str(free_port()),
            "PROM_SCRAPE_INTERVAL": "1s",
            "PROM_EVALUATION_INTERVAL": "1s",
            "PROM_ALERTMANAGER": am_address,
        }
        prom = _run_local("start", f"127.0.0.1:{tumen.port}", env=prom_env)
        try:
            tumen.start().wait_ready(timeout_s=180)
            _check(prom, tumen, am_address, hook)
        finally:
            tumen.stop()
            _run_local("stop", env=prom_env)


def _check(prom: str, tumen: TumenProcess, am_address: str, hook: Webhook) -> None:
    def firing() -> bool:
        assert tumen.proc is not None and tumen.proc.poll() is None, tumen.tail()
        # A dead-lettered report will never raise the alert: stop waiting, show why.
        assert not _query(prom, "tumen_deadletter_total > 0"), f"dead letters:\n{tumen.tail()}"
        return bool(_query(prom, f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}'))

    try:
        wait_until(firing, timeout_s=120, every_s=1, what=f"{ALERT} to fire")
    except AssertionError:
        series = _query(prom, '{__name__=~"tumen_(events|watch_events|feed_polls)_total"}')
        pytest.fail(f"{ALERT} did not fire; series: {series}\nTumen log:\n{tumen.tail(60)}")

    (alert,) = _query(prom, f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}')
    assert {k: alert["metric"][k] for k in ("type", "pair", "severity", "kind")} == {
        "type": "arms_transfer",
        "pair": "north_korea-russia",
        "severity": "critical",
        "kind": "intelligence",
    }

    # Every contract metric is exposed (metadata covers labelled metrics not yet incremented).
    metadata = _get(f"{prom}/api/v1/metadata")["data"]
    assert not [m for m in CONTRACT if m not in metadata]
    assert _query(prom, 'tumen_build_info{job="tumen-run"}')
    assert _query(prom, 'tumen_feed_polls_total{feed="local-wire", outcome="ok"} > 0')

    # The rules evaluate without errors (the 5-minute baseline group may not have run yet).
    groups = _get(f"{prom}/api/v1/rules")["data"]["groups"]
    for group in groups:
        for rule in group["rules"]:
            assert rule["health"] in {"ok", "unknown"}, (group["name"], rule)
            if group["interval"] <= 1:
                assert rule["health"] == "ok", (group["name"], rule["name"], rule.get("lastError"))
    (watched,) = _query(
        prom, 'tumen:watch_events:increase30m{type="arms_transfer", pair="north_korea-russia"}'
    )
    assert float(watched["value"][1]) >= 1

    # Alertmanager routes it to the analysts (webhook and e-mail receiver) and delivers it.
    def delivered() -> bool:
        return any(
            path == "/analysts-webhook-and-email"
            and any(a["labels"]["alertname"] == ALERT for a in body["alerts"])
            for path, body in hook.received
        )

    wait_until(delivered, timeout_s=30, what=f"Alertmanager to deliver {ALERT}")
    am_alerts = _get(f"http://{am_address}/api/v2/alerts?filter=alertname%3D%22{ALERT}%22")
    assert [r["name"] for r in am_alerts[0]["receivers"]] == ["analysts-webhook-and-email"]
