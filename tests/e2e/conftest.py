"""Fixtures for pipeline tests on the real broker, the real PostgreSQL and the real model."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from tests.support.services import TumenProcess


@pytest.fixture
def pipeline_env(kafka_bootstrap: str, pg_url: str, tmp_path: Path, unique: str) -> dict[str, str]:
    """Environment for ``tumen`` subprocesses: a namespace of topics and groups of their own."""
    cfg = tmp_path / "tumen.yaml"
    cfg.write_text(
        json.dumps(
            {
                "kafka": {
                    "namespace": f"t{unique}.",
                    "partitions": 6,
                    "session_timeout_ms": 10000,
                    "heartbeat_interval_ms": 1000,
                    "max_poll_records": 50,
                },
                "classifier": {"batch_size": 16, "max_wait_ms": 200},
                "database": {"connect_timeout_s": 60},
                "embedded": {"path": str(tmp_path / "bus.sqlite3")},
            }
        )
    )
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "TUMEN_CONFIG": str(cfg),
        "TUMEN_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TUMEN_DATABASE_URL": pg_url,
        "TUMEN_ALLOW_PRIVATE_ADDRESSES": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TUMEN_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def db(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[TumenProcess]]:
    """Collects the subprocesses a test starts and stops them all at the end."""
    started: list[TumenProcess] = []
    yield started
    for proc in started:
        with contextlib.suppress(AssertionError):
            proc.stop(timeout_s=30)
