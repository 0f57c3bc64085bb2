"""A service whose broker or database is unreachable retries with backoff, names what it waited
for, and gives up after the configured time with exit status 1 — no traceback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.services import free_port, tumen_cmd


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    cfg = tmp_path / "c.yaml"
    # Kafka probes take up to 10 s each: 12 s leaves room for a logged retry.
    cfg.write_text("kafka: {connect_timeout_s: 12}\ndatabase: {connect_timeout_s: 3}\n")
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "TUMEN_CONFIG": str(cfg), "TUMEN_METRICS_PORT": str(free_port()), **extra}


@pytest.mark.parametrize(
    ("service", "extra", "needle"),
    [
        ("store", {"TUMEN_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, "Kafka at 127.0.0.1:1"),
        (
            "db-upgrade",
            {"TUMEN_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/db"},
            "database postgresql+psycopg://u@127.0.0.1:1/db",
        ),
    ],
)
def test_unreachable_dependency_exits_1_naming_it(
    tmp_path: Path, service: str, extra: dict[str, str], needle: str
) -> None:
    args = ("db", "upgrade") if service == "db-upgrade" else ("serve", service)
    start = time.monotonic()
    proc = tumen_cmd(*args, env=_env(tmp_path, **extra), cwd=tmp_path, timeout_s=120)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tumen: error: ") and needle in last and "unreachable" in last
    assert "Traceback" not in proc.stderr
    assert "retry_in_s" in proc.stderr, "each failed attempt is logged"
    assert time.monotonic() - start < 90
