"""The producer on a real Kafka broker: keyed publishing, no republication after a restart, no
loss when killed between publish and commit, and no loss when the broker stops mid-round.

The broker-outage test runs a private broker of its own (same jars and server.properties
template as deploy/kafka/run-local, its own ports and data directory), so stopping it disturbs
no other test.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from producers.catalog import NewFeed, add_feed
from producers.service import ProducerService
from tests.support.feedserver import FeedServer, loopback_resolver, make_profile, make_settings, rss
from tests.support.services import free_port, wait_until
from tumen.bus.base import TOPICS
from tumen.bus.kafka import KafkaBus
from tumen.config import DatabaseSettings, KafkaSettings
from tumen.metrics import Health, Metrics
from tumen.schemas import decode_article, utcnow
from tumen.storage import FeedItem, create_db_engine, upgrade

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_file(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'tumen.db'}"
    engine = create_db_engine(DatabaseSettings(url=url))
    upgrade(engine)
    yield url, engine
    engine.dispose()


def kafka_settings(bootstrap: str, unique: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap, namespace=f"t{unique}.", partitions=3, request_timeout_ms=5000
    )


def articles_on(bus: KafkaBus, want: int, timeout_s: float = 60.0) -> list[Any]:
    """Read the articles topic from the start until ``want`` distinct ids have arrived."""
    consumer = bus.consumer(group=f"reader-{uuid.uuid4().hex[:8]}", topics=[TOPICS["articles"]])
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len({r.key for r in records}) < want and time.monotonic() < deadline:
            records += consumer.poll(max_records=500, timeout_s=1.0)
        records += consumer.poll(max_records=500, timeout_s=1.0)  # anything extra
    finally:
        consumer.close()
    return records


def stories(*ids: int) -> bytes:
    return rss(
        [
            {
                "title": f"Story {i}",
                "link": f"https://news.example.com/{i}",
                "description": f"Story number {i}.",
            }
            for i in ids
        ]
    )


def test_keyed_publishing_and_restart(
    kafka_bootstrap: str, unique: str, db_file: tuple[str, Engine]
) -> None:
    _, engine = db_file
    bus = KafkaBus(settings=kafka_settings(kafka_bootstrap, unique))
    bus.ensure_topics([TOPICS["articles"]])
    settings = make_settings()
    with FeedServer() as server:
        add_feed(
            engine,
            NewFeed(url=server.add("/a.xml", body=stories(1, 2, 3)), name="a"),
            settings=settings.producer,
            now=utcnow(),
        )

        def service() -> ProducerService:
            return ProducerService(
                settings=settings,
                profile=make_profile(),
                engine=engine,
                producer=bus.producer(),
                metrics=Metrics(),
            )

        first = service()
        assert first.run_round().published == 3
        first.close()
        server.add("/a.xml", body=stories(1, 2, 3, 4))
        second = service()  # a restart: nothing but the new item goes out
        assert second.run_round(utcnow() + timedelta(hours=1)).published == 1
        second.close()
    records = articles_on(bus, 4)
    assert len(records) == 4
    for record in records:
        assert record.key == decode_article(record.value).id.encode()


_KILL_SCRIPT = """
import os, signal, sys
from producers.service import ProducerService
from tests.support.feedserver import make_profile, make_settings
from tumen.bus.kafka import KafkaBus
from tumen.config import DatabaseSettings, KafkaSettings
from tumen.metrics import Metrics
from tumen.storage import create_db_engine

class DiesAfterAck:
    def __init__(self, inner):
        self.inner = inner
    def send(self, messages, *, timeout_s=30.0):
        self.inner.send(messages, timeout_s=timeout_s)  # acknowledged by the broker...
        os.kill(os.getpid(), signal.SIGKILL)           # ...and the process dies before commit
    def close(self):
        self.inner.close()

if __name__ == "__main__":
    db_url, bootstrap, namespace = sys.argv[1:4]
    bus = KafkaBus(settings=KafkaSettings(bootstrap_servers=bootstrap, namespace=namespace))
    engine = create_db_engine(DatabaseSettings(url=db_url))
    ProducerService(settings=make_settings(), profile=make_profile(), engine=engine,
                    producer=DiesAfterAck(bus.producer()), metrics=Metrics()).run_round()
"""


def test_killed_between_publish_and_commit_loses_nothing(
    kafka_bootstrap: str, unique: str, db_file: tuple[str, Engine], tmp_path: Path
) -> None:
    db_url, engine = db_file
    kafka = kafka_settings(kafka_bootstrap, unique)
    bus = KafkaBus(settings=kafka)
    bus.ensure_topics([TOPICS["articles"]])
    settings = make_settings()
    script = tmp_path / "dies_after_ack.py"
    script.write_text(_KILL_SCRIPT)
    with FeedServer() as server:
        add_feed(
            engine,
            NewFeed(url=server.add("/a.xml", body=stories(*range(10))), name="a"),
            settings=settings.producer,
            now=utcnow(),
        )
        proc = subprocess.run(
            [sys.executable, str(script), db_url, kafka_bootstrap, kafka.namespace],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        with Session(engine) as session:  # killed before the commit: no state was written
            assert session.scalar(select(func.count()).select_from(FeedItem)) == 0
        restarted = ProducerService(
            settings=settings,
            profile=make_profile(),
            engine=engine,
            producer=bus.producer(),
            metrics=Metrics(),
        )
        assert restarted.run_round().published == 10  # published again: at least once
        restarted.close()
    records = articles_on(bus, 10)
    keys = [r.key for r in records]
    assert len(set(keys)) == 10  # every article arrived...
    assert len(keys) == 20  # ...twice: once before the kill, once after (downstream dedups by key)


class PrivateBroker:
    """A single-node KRaft broker in a temporary directory, from run-local's jars and template."""

    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.port, self.controller_port = free_port(), free_port()
        self.props = data / "server.properties"
        self.log = data / "broker.log"
        self.proc: subprocess.Popen[bytes] | None = None
        template = (ROOT / "deploy/kafka/server.properties.in").read_text()
        self.props.write_text(
            template.replace("@PORT@", str(self.port))
            .replace("@CONTROLLER_PORT@", str(self.controller_port))
            .replace("@DATA_DIR@", str(data))
        )
        # 22 characters of base64url, as `kafka-storage.sh random-uuid` prints; no leading '-'.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cluster_id = "A" + cluster_id[1:] if cluster_id.startswith("-") else cluster_id
        subprocess.run(
            [
                "java",
                "-Xmx256m",
                *self._jvm(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--cluster-id",
                cluster_id,
                "--config",
                str(self.props),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _jvm(self) -> list[str]:
        return [
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={ROOT / 'deploy/kafka/log4j2.properties'}",
            "-cp",
            f"{ROOT / '.kafka/lib'}/*",
        ]

    def start(self, timeout_s: float = 90) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["java", "-Xms128m", "-Xmx384m", *self._jvm(), "kafka.Kafka", str(self.props)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if b"Kafka Server started" in self.log.read_bytes() and _port_open(self.port):
                return
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            time.sleep(0.3)
        raise AssertionError(f"private broker not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def private_broker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[PrivateBroker]:
    """``kafka_bootstrap`` first: it makes run-local fetch the jars."""
    broker = PrivateBroker(tmp_path / "kafka")
    broker.start()
    yield broker
    broker.stop()


@pytest.mark.slow
def test_broker_stopped_during_a_round_everything_arrives(
    private_broker: PrivateBroker, unique: str, db_file: tuple[str, Engine]
) -> None:
    _, engine = db_file
    bus = KafkaBus(settings=kafka_settings(private_broker.bootstrap, unique))
    bus.ensure_topics([TOPICS["articles"]])
    settings = make_settings(publish_timeout_s=3.0, bus_retry_max_s=2.0, concurrency=1)
    stopped = threading.Event()

    def stop_broker() -> None:  # runs while the round fetches feed "b"
        if not stopped.is_set():
            private_broker.stop()
            stopped.set()

    service = ProducerService(
        settings=settings,
        profile=make_profile(),
        engine=engine,
        producer=bus.producer(),
        metrics=Metrics(),
        resolver=loopback_resolver,
    )
    stop, thread = threading.Event(), None
    with FeedServer() as server:
        server.add("/a.xml", body=stories(*range(0, 6)))
        server.add("/b.xml", body=stories(*range(6, 12)), hook=stop_broker)
        for name in ("a", "b"):
            add_feed(
                engine,
                NewFeed(url=server.url(f"/{name}.xml"), name=name),
                settings=settings.producer,
                now=utcnow(),
            )
        thread = threading.Thread(target=service.run_forever, args=(stop, Health()))
        thread.start()
        try:
            assert stopped.wait(60), "the round never reached feed b"
            time.sleep(8)  # several retries against the stopped broker
            assert _committed(engine) < 12  # b's items are held, uncommitted
            assert thread.is_alive()
            private_broker.start()
            records = articles_on(bus, 12, timeout_s=120)
            # The held polls are retried with backoff: once the broker acknowledges them, their
            # feed state and items are committed.
            wait_until(lambda: _committed(engine) == 12, timeout_s=60, what="the held commits")
        finally:
            stop.set()
            thread.join(60)
    assert not thread.is_alive()
    assert {decode_article(r.value).title for r in records} == {f"Story {i}" for i in range(12)}


def _committed(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(FeedItem)) or 0
