"""``tumen run`` on embedded defaults (SQLite, the durable embedded bus, no Kafka): the same stage
code as the services, end to end, and durable across a kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.articles import write_articles
from tests.support.services import ROOT, TumenProcess, tumen_cmd, wait_until
from tumen.profile import default_profile_path

pytestmark = [pytest.mark.slow]
REPORT = (ROOT / "tests/fixtures/reports/rason-rail-report.txt").read_text(encoding="utf-8")


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "TUMEN_DATABASE_URL": f"sqlite:///{tmp_path / 'tumen.db'}",
        "TUMEN_ALLOW_PRIVATE_ADDRESSES": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def _count(tmp: Path, sql: str) -> int:
    try:
        with sqlite3.connect(tmp / "tumen.db") as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return -1


def test_run_feed_to_alert_and_clean_stop(
    embedded_env: dict[str, str], tmp_path: Path, site: Any
) -> None:
    feed = site.rss("/feed.xml", [("/r/1", "Trains, workers and shells", REPORT)])
    profile = tmp_path / "profile.yaml"
    data = yaml.safe_load(default_profile_path().read_text())
    data["feeds"] = [{"name": "local", "url": feed}]
    profile.write_text(yaml.safe_dump(data))
    run = TumenProcess(
        "--profile", str(profile), "run", env=embedded_env, cwd=tmp_path, name="run"
    ).start()
    try:
        run.wait_ready(180)
        wait_until(
            lambda: _count(tmp_path, "SELECT COUNT(*) FROM alerts") >= 1,
            timeout_s=180,
            what="an alert from the embedded pipeline",
        )
        metrics = run.metrics()
        assert 'tumen_feed_polls_total{feed="local",outcome="ok"}' in metrics
        assert (
            "tumen_events_total" in metrics and 'tumen_build_info{model_version="minilm' in metrics
        )
        assert run.proc is not None
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(60) == 0, run.tail()
    finally:
        run.stop()
    assert _count(tmp_path, "SELECT COUNT(*) FROM articles") == 1
    assert _count(tmp_path, "SELECT COUNT(*) FROM events WHERE type = 'arms_transfer'") >= 1


def test_accepted_articles_survive_kill9(embedded_env: dict[str, str], tmp_path: Path) -> None:
    n = 60
    write_articles(tmp_path / "a.jsonl", n)
    profile = tmp_path / "profile.yaml"
    data = yaml.safe_load(default_profile_path().read_text())
    data["feeds"] = []
    profile.write_text(yaml.safe_dump(data))
    # Accepted into the embedded bus with no pipeline running...
    done = tumen_cmd("replay", str(tmp_path / "a.jsonl"), env=embedded_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = TumenProcess(
        "--profile", str(profile), "run", env=embedded_env, cwd=tmp_path, name="run-1"
    ).start()
    run.wait_ready(180)
    wait_until(
        lambda: _count(tmp_path, "SELECT COUNT(*) FROM articles") >= 5,
        timeout_s=120,
        what="some articles stored",
    )
    run.kill9()  # ...killed mid-stream...
    assert _count(tmp_path, "SELECT COUNT(*) FROM articles") < n
    again = TumenProcess(
        "--profile", str(profile), "run", env=embedded_env, cwd=tmp_path, name="run-2"
    ).start()
    try:
        wait_until(
            lambda: _count(tmp_path, "SELECT COUNT(*) FROM articles") >= n,
            timeout_s=240,
            what="every accepted article stored after the restart",
        )
    finally:
        again.stop()
    assert _count(tmp_path, "SELECT COUNT(*) FROM articles") == n
    assert (
        _count(
            tmp_path,
            'SELECT COUNT(*) FROM (SELECT article_id, type, start, "end" '
            "FROM events GROUP BY 1,2,3,4 HAVING COUNT(*) > 1)",
        )
        == 0
    )
