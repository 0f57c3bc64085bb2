"""Shared fixtures: the real Kafka broker and PostgreSQL started by ``deploy/*/run-local``.

``make test`` starts both and exports their addresses; a plain ``pytest`` run starts them here on
first use (session scope) and stops what it started at the end. Names of topics, groups and
databases are unique per test so tests never see each other's data.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def _run_local(service: str, *args: str) -> str:
    proc = subprocess.run(
        ["bash", str(ROOT / "deploy" / service / "run-local"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"{service} run-local {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of the real broker (started here unless ``make test`` did)."""
    if os.environ.get("TUMEN_TEST_KAFKA"):
        yield os.environ["TUMEN_TEST_KAFKA"]
        return
    os.environ.setdefault("KAFKA_PORT", "19092")
    os.environ.setdefault("KAFKA_CONTROLLER_PORT", "19093")
    was_running = (
        subprocess.run(
            ["bash", str(ROOT / "deploy/kafka/run-local"), "status"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    bootstrap = _run_local("kafka", "start")
    yield bootstrap
    if not was_running:
        _run_local("kafka", "stop")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the test database on the real PostgreSQL (started here unless ``make test`` did)."""
    if os.environ.get("TUMEN_TEST_DATABASE_URL"):
        yield os.environ["TUMEN_TEST_DATABASE_URL"]
        return
    os.environ.setdefault("PG_PORT", "55432")
    was_running = (
        subprocess.run(
            ["bash", str(ROOT / "deploy/postgres/run-local"), "status"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    url = _run_local("postgres", "start")
    yield url
    if not was_running:
        _run_local("postgres", "stop")


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tumen.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Both databases: storage tests run against SQLite and the real PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names."""
    return uuid.uuid4().hex[:10]
