"""Producer benchmark (issue 3): 500 feeds of 50 items served on 127.0.0.1, one full round, then
a second round in which every feed answers 304. Prints figures; asserts nothing.

Each feed has its own host name (feed17.bench.test, ...) that a test resolver maps to 127.0.0.1,
so per-host politeness applies as it would to 500 sites, and no packet leaves the loopback
interface. The feed server runs in a separate process (it competes for the same CPUs; the
figures say so). Publishing goes to Kafka when ``TUMEN_TEST_KAFKA`` is set (``make bench``),
else to the embedded bus.

    .venv/bin/python bench/bench_producer.py [--feeds 500] [--items 50] [--bus auto|kafka|embedded]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from producers.catalog import NewFeed, add_feed  # noqa: E402
from producers.service import ProducerService, RoundSummary  # noqa: E402
from tests.support.feedserver import FeedServer, loopback_resolver, make_profile, rss  # noqa: E402
from tumen.bus import Bus  # noqa: E402
from tumen.bus.base import TOPICS  # noqa: E402
from tumen.config import DatabaseSettings, ProducerSettings, Settings  # noqa: E402
from tumen.metrics import Metrics  # noqa: E402
from tumen.schemas import utcnow  # noqa: E402
from tumen.storage import create_db_engine, upgrade  # noqa: E402

_SYLLABLES = [c + v for c in "bdfghklmnprstvz" for v in "aeiou"]
_TICK = os.sysconf("SC_CLK_TCK")


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Pseudo-words: two items share few of them, as two different stories do."""
    return ["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))) for _ in range(size)]


def feed_document(feed: int, items: int, rng: random.Random, words: list[str]) -> bytes:
    base = utcnow() - timedelta(days=2)
    return rss(
        [
            {
                "title": " ".join(rng.choices(words, k=9)).capitalize(),
                "link": f"https://news{feed}.bench.test/{feed}/story-{i}.html?utm_source=rss",
                "guid": f"bench-{feed}-{i}",
                "pubDate": (base + timedelta(minutes=37 * i)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
                "description": "<p>" + " ".join(rng.choices(words, k=80)) + ".</p>",
            }
            for i in range(items)
        ],
        title=f"Bench feed {feed}",
    )


def serve(feeds: int, items: int, port_out: multiprocessing.Queue[int], stop: MpEvent) -> None:
    rng = random.Random(20240304)
    words = vocabulary(rng)
    server = FeedServer()
    for f in range(feeds):
        server.add(
            f"/feed/{f}.xml",
            body=feed_document(f, items, rng, words),
            etag=f'"bench-{f}"',
            headers={"Cache-Control": "max-age=60"},
        )
    server.start()
    port_out.put(server.port)
    stop.wait()
    server.stop()


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of live processes, from /proc."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name == "tumen-parse" and p.pid]


def open_bus(kind: str, tmp: Path) -> Bus:
    bootstrap = os.environ.get("TUMEN_TEST_KAFKA")
    if kind == "kafka" or (kind == "auto" and bootstrap):
        from tumen.bus.kafka import KafkaBus
        from tumen.config import KafkaSettings

        if not bootstrap:
            sys.exit("--bus kafka needs TUMEN_TEST_KAFKA=127.0.0.1:PORT")
        bus: Bus = KafkaBus(
            settings=KafkaSettings(
                bootstrap_servers=bootstrap, namespace=f"bench{uuid.uuid4().hex[:8]}."
            )
        )
    else:
        from tumen.bus.embedded import EmbeddedBus

        bus = EmbeddedBus(path=tmp / "bus.sqlite3")
    bus.ensure_topics([TOPICS["articles"]])
    return bus


def measure(service: ProducerService, now: datetime) -> tuple[float, float, RoundSummary]:
    main_cpu, pool_cpu = time.process_time(), cpu_s(workers())
    started = time.perf_counter()
    summary = service.run_round(now)
    wall = time.perf_counter() - started
    cpu = time.process_time() - main_cpu + cpu_s(workers()) - pool_cpu
    return wall, cpu, summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--feeds", type=int, default=500)
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--bus", choices=["auto", "kafka", "embedded"], default="auto")
    args = p.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    stop = ctx.Event()
    server = ctx.Process(target=serve, args=(args.feeds, args.items, ports, stop), name="server")
    server.start()
    port = ports.get(timeout=300)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        engine = create_db_engine(DatabaseSettings(url=f"sqlite:///{tmp / 'tumen.db'}"))
        upgrade(engine)
        settings = Settings(allow_private_addresses=True, producer=ProducerSettings())
        for f in range(args.feeds):
            add_feed(
                engine,
                NewFeed(url=f"http://feed{f}.bench.test:{port}/feed/{f}.xml", name=f"bench-{f}"),
                settings=settings.producer,
                now=utcnow(),
            )
        bus = open_bus(args.bus, tmp)
        service = ProducerService(
            settings=settings,
            profile=make_profile(),
            engine=engine,
            producer=bus.producer(),
            metrics=Metrics(),
            resolver=loopback_resolver,
        )
        wall1, cpu1, s1 = measure(service, utcnow())
        worker_rss = max((peak_rss_mb(pid) for pid in workers()), default=0.0)
        wall2, cpu2, s2 = measure(service, utcnow() + timedelta(days=2))
        service.close()
        bus.close()
        engine.dispose()
    stop.set()
    server.join(30)
    items = args.feeds * args.items
    ps = settings.producer
    published = s1.published
    dups = sum(r.duplicates for r in s1.feeds)
    errors1, errors2 = s1.errors, s2.errors
    not_modified = sum(1 for r in s2.feeds if r.outcome == "not_modified")
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"producer bench: {args.feeds} feeds x {args.items} items on 127.0.0.1, bus={bus.kind}, "
        f"parse workers={ps.parse_workers}, concurrency={ps.concurrency}"
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs (the feed server shares them), load average {load}")
    print(
        f"round 1 (all new):  {wall1:7.2f} s wall  {items / wall1:8.0f} items/s  "
        f"{cpu1 / items * 1000:6.2f} CPU s per 1,000 items  published={published} "
        f"duplicates={dups} errors={errors1}"
    )
    print(
        f"round 2 (all 304):  {wall2:7.2f} s wall  {args.feeds / wall2:8.0f} feeds/s  "
        f"{cpu2:6.2f} CPU s in all  not_modified={not_modified} errors={errors2}"
    )
    print(f"peak RSS: producer process {main_rss:.0f} MB, largest parse worker {worker_rss:.0f} MB")


if __name__ == "__main__":
    main()
