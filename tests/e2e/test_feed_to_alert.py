"""End to end on the real parts: a local feed server → producer → Kafka → classifier → store →
alerter. A report written like the seed article ends as an article row, its events with their
extraction, and an alert; the same report from a second feed does not fire a second alert."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.e2e.articles import write_articles
from tests.e2e.test_kafka_pipeline import _count, _serve
from tests.support.services import ROOT, TumenProcess, tumen_cmd, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPORT = (ROOT / "tests/fixtures/reports/rason-rail-report.txt").read_text(encoding="utf-8")


def _rows(db: Engine, sql: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql))]


def test_report_from_two_feeds_is_stored_once_and_alerts_once(
    pipeline_env: dict[str, str],
    tmp_path: Path,
    db: Engine,
    services: list[TumenProcess],
    site: Any,
) -> None:
    title = "Freight trains and workers head to Russia as arms trade grows"
    feed_a = site.rss("/a.xml", [("/news/rail-report", title, REPORT)])
    feed_b = site.rss("/b.xml", [("/wire/2026/11/rail-report-copy", title, REPORT)])
    for name, url in (("outlet-a", feed_a), ("outlet-b", feed_b)):
        added = tumen_cmd("feeds", "add", url, "--name", name, env=pipeline_env, cwd=tmp_path)
        assert added.returncode == 0, added.stderr
    for svc in ("store", "alerter", "classifier"):
        _serve(services, pipeline_env, tmp_path, svc)
    polled = tumen_cmd("poll", "--once", env=pipeline_env, cwd=tmp_path)
    assert polled.returncode == 0, polled.stdout + polled.stderr

    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM alerts") >= 1, timeout_s=180, what="an alert row"
    )
    assert _count(db, "SELECT COUNT(*) FROM articles") == 1, "the syndicated copy is one story"
    events = _rows(
        db,
        "SELECT type, actors, direction_from, direction_to, items, quantities, "
        'locations, time_text, evidence, start, "end" FROM events',
    )
    types = {e["type"] for e in events}
    assert {"arms_transfer", "labor_dispatch", "trade_logistics"} <= types, types
    article = _rows(db, "SELECT content, summary FROM articles")[0]
    body = article["content"] or article["summary"]
    for e in events:
        assert body[e["start"] : e["end"]] == e["evidence"], "evidence offsets into the article"
    arms = [e for e in events if e["type"] == "arms_transfer"]
    assert any({"North Korea", "Russia"} <= set(e["actors"]) for e in arms)
    assert any("artillery shells" in e["items"] for e in arms)
    labour = [e for e in events if e["type"] == "labor_dispatch"]
    assert any(q.get("approximate") for e in labour for q in e["quantities"]), labour

    alerts = _rows(db, "SELECT rule, severity, sources, notifications FROM alerts")
    rules = {a["rule"] for a in alerts}
    assert "dprk-russia-arms-or-troops" in rules, rules
    assert all(a["notifications"] == 1 for a in alerts)

    # A second poll and a restart of the alerter change nothing.
    assert tumen_cmd("poll", "--once", env=pipeline_env, cwd=tmp_path).returncode == 0
    alerter = next(p for p in services if p.args == ("serve", "alerter"))
    assert alerter.stop() == 0
    _serve(services, pipeline_env, tmp_path, "alerter", "alerter-2")
    assert _count(db, "SELECT COUNT(*) FROM articles") == 1
    assert _rows(db, "SELECT SUM(notifications) AS n FROM alerts")[0]["n"] == len(alerts)


def test_pipeline_resumes_after_a_20s_broker_outage(
    pipeline_env: dict[str, str],
    tmp_path: Path,
    db: Engine,
    services: list[TumenProcess],
) -> None:
    n = 120
    write_articles(tmp_path / "a.jsonl", n)
    done = tumen_cmd("replay", str(tmp_path / "a.jsonl"), env=pipeline_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _serve(services, pipeline_env, tmp_path, "store")
    _serve(services, pipeline_env, tmp_path, "classifier")
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= 10,
        timeout_s=120,
        what="some articles stored",
    )
    kafka = ["bash", str(ROOT / "deploy/kafka/run-local")]
    subprocess.run([*kafka, "stop"], check=True, capture_output=True, timeout=120)
    try:
        stalled = _count(db, "SELECT COUNT(*) FROM articles")
        time.sleep(20)
        assert _count(db, "SELECT COUNT(*) FROM articles") - stalled <= 16, "broker was down"
    finally:
        subprocess.run(
            [*kafka, "start"],
            check=True,
            capture_output=True,
            timeout=180,
            env={**os.environ, "KAFKA_KEEP_DATA": "1"},
        )
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= n,
        timeout_s=240,
        what=f"all {n} articles stored after the outage",
    )
    assert _count(db, "SELECT COUNT(*) FROM articles") == n
    assert all(p.proc is not None and p.proc.poll() is None for p in services), "no crash"
