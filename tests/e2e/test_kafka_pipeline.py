"""The services on the real broker, PostgreSQL and model: at-least-once delivery, idempotent
storage, dead letters, scaling, and recovery from a kill -9 and from a database outage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.e2e.articles import write_articles
from tests.support.services import ROOT, TumenProcess, tumen_cmd, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _count(db: Engine, sql: str) -> int:
    try:
        with db.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    except Exception:  # the tables appear once the first service has migrated
        return -1


def _serve(
    services: list[TumenProcess], env: dict[str, str], tmp: Path, svc: str, name: str | None = None
) -> TumenProcess:
    proc = TumenProcess("serve", svc, env=env, cwd=tmp, name=name or svc).start()
    services.append(proc)
    return proc.wait_ready()


def _replay(env: dict[str, str], tmp: Path, path: Path) -> None:
    done = tumen_cmd("replay", str(path), env=env, cwd=tmp)
    assert done.returncode == 0, done.stderr


def _assert_stored_once(db: Engine, n: int) -> None:
    assert _count(db, "SELECT COUNT(*) FROM articles") == n
    dup = _count(
        db,
        'SELECT COUNT(*) FROM (SELECT article_id, type, start, "end" FROM events '
        "GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1) d",
    )
    assert dup == 0, "an event was stored twice"


def test_kill9_classifier_mid_stream(
    pipeline_env: dict[str, str], tmp_path: Path, db: Engine, services: list[TumenProcess]
) -> None:
    n = 150
    _serve(services, pipeline_env, tmp_path, "store")
    write_articles(tmp_path / "a.jsonl", n)
    _replay(pipeline_env, tmp_path, tmp_path / "a.jsonl")
    first = _serve(services, pipeline_env, tmp_path, "classifier", "classifier-1")
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= 20,
        timeout_s=120,
        what="some articles stored",
    )
    first.kill9()
    assert _count(db, "SELECT COUNT(*) FROM articles") < n, "too late: nothing left in flight"
    _serve(services, pipeline_env, tmp_path, "classifier", "classifier-2")
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= n,
        timeout_s=240,
        what=f"all {n} articles stored",
    )
    _assert_stored_once(db, n)
    assert _count(db, "SELECT COUNT(*) FROM events WHERE type = 'arms_transfer'") > 0


def test_two_classifier_replicas_one_stopped(
    pipeline_env: dict[str, str], tmp_path: Path, db: Engine, services: list[TumenProcess]
) -> None:
    n = 200
    _serve(services, pipeline_env, tmp_path, "store")
    a = _serve(services, pipeline_env, tmp_path, "classifier", "classifier-a")
    b = _serve(services, pipeline_env, tmp_path, "classifier", "classifier-b")
    write_articles(tmp_path / "a.jsonl", n)
    _replay(pipeline_env, tmp_path, tmp_path / "a.jsonl")
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= 40,
        timeout_s=120,
        what="some articles stored",
    )
    assert "tumen_articles_classified_total" in b.metrics()
    assert a.stop() == 0, "SIGTERM must stop the replica cleanly"
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= n,
        timeout_s=240,
        what=f"all {n} articles stored",
    )
    _assert_stored_once(db, n)


def test_poison_messages_dead_lettered_then_replayed(
    pipeline_env: dict[str, str], tmp_path: Path, db: Engine, services: list[TumenProcess]
) -> None:
    from kafka import KafkaProducer

    ns = pipeline_env["TUMEN_CONFIG"]
    namespace = __import__("json").loads(Path(ns).read_text())["kafka"]["namespace"]
    _serve(services, pipeline_env, tmp_path, "store")
    _serve(services, pipeline_env, tmp_path, "classifier")
    raw = KafkaProducer(bootstrap_servers=pipeline_env["TUMEN_KAFKA_BOOTSTRAP_SERVERS"])
    topic = namespace + "tumen.articles.v1"
    raw.send(topic, key=b"bad-json", value=b"{this is not json")
    raw.send(topic, key=b"bad-schema", value=b'{"schema": "tumen.article/1", "id": "x"}')
    raw.flush()
    raw.close()
    write_articles(tmp_path / "a.jsonl", 5)
    _replay(pipeline_env, tmp_path, tmp_path / "a.jsonl")
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= 5,
        timeout_s=120,
        what="the good articles stored",
    )
    listed = tumen_cmd("deadletter", "list", env=pipeline_env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = [ln for ln in listed.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 2, listed.stdout
    assert '"stage": "classifier"' in lines[0] and '"error_class": "SchemaError"' in lines[0]
    replayed = tumen_cmd("deadletter", "replay", env=pipeline_env, cwd=tmp_path)
    assert replayed.returncode == 0 and "replayed 2 message(s)" in replayed.stdout

    # Re-injected, they fail again and come back to the dead-letter topic: 4 in all.
    def listed_count() -> int:
        out = tumen_cmd("deadletter", "list", env=pipeline_env, cwd=tmp_path).stdout
        return len([ln for ln in out.splitlines() if ln.startswith("{")])

    wait_until(lambda: listed_count() == 4, timeout_s=90, every_s=2, what="re-dead-lettered")
    # A second replay takes only the two new dead letters, not the two already replayed.
    again = tumen_cmd("deadletter", "replay", env=pipeline_env, cwd=tmp_path)
    assert "replayed 2 message(s)" in again.stdout, again.stdout + again.stderr


def test_store_survives_postgres_outage(
    pipeline_env: dict[str, str], tmp_path: Path, db: Engine, services: list[TumenProcess]
) -> None:
    n = 60
    store = _serve(services, pipeline_env, tmp_path, "store")
    _serve(services, pipeline_env, tmp_path, "classifier")
    write_articles(tmp_path / "a.jsonl", n)
    pg = ["bash", str(ROOT / "deploy/postgres/run-local")]
    subprocess.run([*pg, "stop"], check=True, capture_output=True, timeout=120)
    try:
        _replay(pipeline_env, tmp_path, tmp_path / "a.jsonl")
        wait_until(
            lambda: (
                "tumen_store_errors_total" in store.metrics()
                and 'reason="unavailable"' in store.metrics()
            ),
            timeout_s=60,
            what="the store to notice the outage",
        )
    finally:
        subprocess.run([*pg, "start"], check=True, capture_output=True, timeout=300)
    wait_until(
        lambda: _count(db, "SELECT COUNT(*) FROM articles") >= n,
        timeout_s=180,
        what=f"all {n} articles stored after the outage",
    )
    _assert_stored_once(db, n)
    assert store.proc is not None and store.proc.poll() is None, "the store must not crash"
