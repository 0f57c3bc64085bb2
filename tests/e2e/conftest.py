"""Fixtures for pipeline tests on the real broker, the real PostgreSQL and the real model."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    engine = create_engine(pg_url, pool_pre_ping=True)
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


class _Site:
    """Static documents served from 127.0.0.1; ``pages[path] = (body, content_type)``."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[bytes, str]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, ctype = site.pages.get(self.path, (b"not found", "text/plain"))
                self.send_response(200 if self.path in site.pages else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rss(self, path: str, items: list[tuple[str, str, str]]) -> str:
        """Publish an RSS 2.0 feed of (link path, title, description) items at ``path``."""
        entries = "".join(
            f"<item><title>{escape(t)}</title><link>{self.url}{link}</link>"
            f"<guid>{self.url}{link}</guid><description>{escape(d)}</description>"
            "<pubDate>Wed, 25 Nov 2026 08:00:00 GMT</pubDate></item>"
            for link, t, d in items
        )
        doc = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{path}</title><link>{self.url}/</link><description>test</description>"
            f"{entries}</channel></rss>"
        )
        self.pages[path] = (doc.encode(), "application/rss+xml")
        return self.url + path


@pytest.fixture
def site() -> Iterator[_Site]:
    s = _Site()
    yield s
    s.server.shutdown()
    s.server.server_close()
