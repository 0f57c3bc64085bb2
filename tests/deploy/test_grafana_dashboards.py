"""deploy/grafana: the dashboards load and are well formed, every PromQL query parses and names
only what Tumen exports, and every SQL query runs on the migrated PostgreSQL schema, as Grafana's
read-only role, and returns the columns its panel uses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from tumen.config import DatabaseSettings
from tumen.storage import create_db_engine, upgrade
from tumen.storage.tables import Alert, Article, Event

from .helpers import DEPLOY, check_promql, run_tool
from .promql import substitute_grafana

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
NOW = datetime.now(UTC)
FROM, TO = NOW - timedelta(days=7), NOW + timedelta(hours=1)

Panel = dict[str, Any]


def _panels(path: Path) -> list[Panel]:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    flat: list[Panel] = []
    for panel in dashboard["panels"]:
        flat.append(panel)
        flat.extend(panel.get("panels", []))  # panels inside collapsed rows
    return flat


def _targets(kind: str) -> list[tuple[str, Panel, dict[str, Any]]]:
    return [
        (f"{path.stem}:{panel['title']}:{t['refId']}", panel, t)
        for path in DASHBOARDS
        for panel in _panels(path)
        for t in panel.get("targets", [])
        if t.get("datasource", panel.get("datasource", {})).get("type") == kind
    ]


PROM_TARGETS = _targets("prometheus")
SQL_TARGETS = _targets("grafana-postgresql-datasource")


def _provisioned_uids() -> set[str]:
    path = GRAFANA / "provisioning" / "datasources" / "tumen.yaml"
    return {d["uid"] for d in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]}


def test_dashboards_are_well_formed() -> None:
    uids = _provisioned_uids()
    seen_uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert 8 <= len(dashboard["uid"]) <= 40 and dashboard["uid"] not in seen_uids, path.name
        seen_uids.add(dashboard["uid"])
        assert dashboard["id"] is None, "provisioned dashboards carry no database id"
        panels = _panels(path)
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for p in panels:
            g = p["gridPos"]
            assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, f"{p['title']}: {g}"
            if p["type"] == "row":
                continue
            assert p["datasource"]["uid"] in uids, f"{p['title']}: unknown datasource"
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs)) and refs, f"{p['title']}: refIds"
            for t in p["targets"]:
                assert t["datasource"]["uid"] in uids, f"{p['title']}: unknown datasource"
    assert {"tumen-pipeline-health", "tumen-intelligence"} <= seen_uids


@pytest.mark.parametrize(
    ("where", "panel", "target"), PROM_TARGETS, ids=[t[0] for t in PROM_TARGETS]
)
def test_promql_names_only_what_tumen_exports(
    where: str,
    panel: Panel,
    target: dict[str, Any],
    exposed: dict[str, frozenset[str]],
    recorded: set[str],
) -> None:
    expr = substitute_grafana(target["expr"])
    assert check_promql(expr, exposed=exposed, recorded=recorded) == []


@pytest.mark.integration
def test_promql_parses(tmp_path: Path) -> None:
    """promtool parses rule expressions: wrap every query as a recording rule and check them."""
    rules = [
        {"record": f"dashboard:query:{i}", "expr": substitute_grafana(t["expr"])}
        for i, (_, _, t) in enumerate(PROM_TARGETS)
    ]
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    r = run_tool("promtool", "check", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


# --- SQL -------------------------------------------------------------------------------------

_MACROS = {
    re.compile(r"\$__timeFilter\(([^)]+)\)"): (
        lambda m: (
            f"{m.group(1)} BETWEEN '{FROM.isoformat()}'::timestamptz "
            f"AND '{TO.isoformat()}'::timestamptz"
        )
    ),
    re.compile(r"\$__timeFrom\(\)"): lambda m: f"'{FROM.isoformat()}'::timestamptz",
    re.compile(r"\$__timeTo\(\)"): lambda m: f"'{TO.isoformat()}'::timestamptz",
}


def _expand(sql: str) -> str:
    """Grafana's macros as the PostgreSQL datasource expands them, for a fixed time range."""
    for pattern, repl in _MACROS.items():
        sql = pattern.sub(repl, sql)
    assert "$" not in sql, f"unknown macro or variable left in: {sql}"
    return sql


def _columns_used(panel: Panel, target: dict[str, Any]) -> set[str]:
    """Columns the panel refers to by name: overrides, organize, links, sorting, time series."""
    used: set[str] = set()
    for o in panel.get("fieldConfig", {}).get("overrides", []):
        if o["matcher"]["id"] == "byName":
            used.add(o["matcher"]["options"])
        used.update(re.findall(r"__data\.fields\.(\w+)", json.dumps(o)))
    for t in panel.get("transformations", []):
        if t["id"] == "organize":
            for key in ("excludeByName", "indexByName", "renameByName"):
                used.update(t["options"].get(key, {}))
    renamed = {
        new: old
        for t in panel.get("transformations", [])
        if t["id"] == "organize"
        for old, new in t["options"].get("renameByName", {}).items()
    }
    used.update(
        renamed.get(s["displayName"], s["displayName"]) for s in panel["options"].get("sortBy", [])
    )
    if target.get("format") == "time_series":
        used.update({"time", "value"})
    return used


def _seed(url: str) -> None:
    """One article with an arms-transfer event (items, a quantity) and an open alert."""
    engine = create_engine(url)
    at = NOW - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            insert(Article),
            [
                {
                    "id": "a1",
                    "feed": "local",
                    "url": "http://127.0.0.1/a1",
                    "title": "Shells by rail",
                    "summary": "",
                    "content": "",
                    "fetched_at": at,
                    "stored_at": at,
                    "content_hash": "h",
                    "event_count": 1,
                    "superseded_versions": 0,
                    "published_at": at,
                }
            ],
        )
        conn.execute(
            insert(Event),
            [
                {
                    "article_id": "a1",
                    "model_version": "m1",
                    "type": "arms_transfer",
                    "confidence": 0.91,
                    "evidence": "North Korea sent 5,000 artillery shells to Russia.",
                    "start": 0,
                    "end": 50,
                    "actors": ["North Korea", "Russia"],
                    "items": ["artillery shells"],
                    "quantities": [
                        {"text": "5,000", "value": 5000, "unit": "shells"},
                        {"text": "several"},
                    ],
                    "locations": [],
                    "occurred_at": at,
                }
            ],
        )
        conn.execute(
            insert(Alert),
            [
                {
                    "dedup_key": "k1",
                    "rule": "arms_transfer_watch",
                    "severity": "critical",
                    "status": "open",
                    "article_id": "a1",
                    "event": {"type": "arms_transfer"},
                    "reason": "watched pair",
                    "sources": 1,
                    "source_articles": ["a1"],
                    "notifications": 1,
                    "fired_at": at,
                    "last_notified_at": at,
                    "updated_at": at,
                }
            ],
        )
    engine.dispose()


@pytest.fixture
def reader_url(pg_url: str) -> Iterator[str]:
    """pg_url migrated as Grafana's deployment has it: the read-only role made first by
    deploy/grafana/postgres-init (as the postgres image runs it), then `tumen db upgrade`."""
    url = make_url(pg_url)
    reader = f"grafana_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGPASSWORD": url.password or "",
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": url.database or "",
        "GRAFANA_DB_USER": reader,
        "GRAFANA_DB_PASSWORD": "reader-password",
    }
    script = GRAFANA / "postgres-init" / "10-grafana-reader.sh"
    r = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0, r.stdout + r.stderr
    engine = create_db_engine(DatabaseSettings(url=pg_url))
    upgrade(engine)
    engine.dispose()
    _seed(pg_url)
    yield url.set(username=reader, password="reader-password").render_as_string(hide_password=False)
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{reader}"'))
        conn.execute(text(f'DROP ROLE "{reader}"'))
    admin.dispose()


@pytest.mark.integration
def test_sql_queries_run_as_grafana_and_return_their_columns(reader_url: str) -> None:
    assert SQL_TARGETS, "the Intelligence dashboard has SQL panels"
    engine = create_engine(reader_url)
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.connect() as conn:
            for where, panel, target in SQL_TARGETS:
                rows = conn.execute(text(_expand(target["rawSql"])))
                columns = set(rows.keys())
                missing = _columns_used(panel, target) - columns
                assert not missing, (
                    f"{where}: panel uses {sorted(missing)}, query gives {sorted(columns)}"
                )
                results[panel["title"]] = [dict(r._mapping) for r in rows]
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(text("DELETE FROM events"))  # read-only, as intended
    finally:
        engine.dispose()
    # The seeded event shows up where an analyst looks for it.
    assert results["Latest events"][0]["url"] == "http://127.0.0.1/a1"
    assert results["Top items"][0]["item"] == "artillery shells"
    assert [r["value"] for r in results["Largest quantities"]] == [5000]
    assert results["Open alerts"][0]["title"] == "Shells by rail"
    assert results["Events per type per day (database)"][0]["metric"] == "arms_transfer"


def test_provisioning_points_at_the_dashboards_folder() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "tumen.yaml").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    path = provider["providers"][0]["options"]["path"]
    assert any(m.endswith(f":{path}:ro") and m.startswith("./grafana/dashboards") for m in mounts)
