"""End-to-end benchmark (issue 5): replay N articles through Kafka with 1 and then 2 classifier
replicas; report articles/s end to end, fetched→stored latency p50/p95, peak RSS per service and
consumer lag over time, and compare with ``tumen classify``'s rate on the same articles.

Needs the Kafka broker and PostgreSQL of ``deploy/*/run-local`` (``make bench`` starts them).
Every connection goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.services import TumenProcess, tumen_cmd  # noqa: E402

SENTENCES = [
    "Officials in Seoul said {n} containers of artillery ammunition left the port of Rajin for "
    "Russia's Far East this week.",
    "A rail operator in Primorye reported that {n} wagons of coal crossed the Tumen river bridge.",
    "Several hundred North Korean workers are due to leave for construction sites in Vladivostok.",
    "The city council approved a budget of {n} million for road repairs after complaints.",
    "A local football club signed a winger on a {n}-month contract, the club said.",
    "Japan's defence ministry said a ballistic missile flew {n} km before landing at sea.",
    "Analysts said the relationship could deepen further, without giving details.",
]


def write_articles(path: Path, n: int) -> None:
    with path.open("w") as out:
        for i in range(n):
            body = " ".join(
                SENTENCES[(i + j) % len(SENTENCES)].format(n=10 + i % 900) for j in range(4)
            )
            out.write(
                json.dumps(
                    {
                        "url": f"https://bench.example.org/a/{i}",
                        "title": f"Item {i}",
                        "content": body,
                        "feed": "bench",
                    }
                )
                + "\n"
            )


def classify_rate(path: Path) -> float:
    from models.classifier import Document, EventModel
    from models.commands import BATCH as CLASSIFY_BATCH

    docs = [
        Document(id=str(i), text=json.loads(line)["content"], title=json.loads(line)["title"])
        for i, line in enumerate(path.read_text().splitlines())
    ]
    model = EventModel.load()
    model.classify(docs[:64])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(docs), CLASSIFY_BATCH):  # as `tumen classify` batches its input
        model.classify(docs[i : i + CLASSIFY_BATCH])
    return len(docs) / (time.perf_counter() - start)


def rss_peak_mb(pid: int) -> float:
    text_ = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmHWM:\s+(\d+) kB", text_)
    return int(m.group(1)) / 1024 if m else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The local Kafka broker's process, for its CPU figure (None if not found)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"kafka.Kafka" in cmd and b"java" in cmd:
                return int(proc.name)
    return None


def lag(proc: TumenProcess) -> float:
    total = 0.0
    for line in proc.metrics().splitlines():
        if line.startswith("tumen_consumer_lag{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def run_once(
    replicas: int, path: Path, n: int, env: dict[str, str], tmp: Path, pg_url: str
) -> dict[str, object]:
    ns = f"bench{uuid.uuid4().hex[:8]}."
    cfg = tmp / f"cfg-{replicas}.yaml"
    cfg.write_text(
        json.dumps(
            {
                "kafka": {"namespace": ns, "partitions": 6},
                "classifier": {"batch_size": 64, "max_wait_ms": 200},
            }
        )
    )
    env = {**env, "TUMEN_CONFIG": str(cfg)}
    engine = create_engine(pg_url)
    assert tumen_cmd("db", "upgrade", env=env, cwd=tmp).returncode == 0
    with engine.begin() as c:
        c.execute(text("TRUNCATE articles, events CASCADE"))
    procs = [TumenProcess("serve", "store", env=env, cwd=tmp, name=f"store-{replicas}").start()]
    procs += [
        TumenProcess(
            "serve", "classifier", env=env, cwd=tmp, name=f"classifier-{replicas}-{i}"
        ).start()
        for i in range(replicas)
    ]
    for p in procs:
        p.wait_ready(300)
    broker = broker_pid()
    cpu_before = {p.log_path.stem: cpu_seconds(p.proc.pid) for p in procs if p.proc}
    if broker:
        cpu_before["kafka-broker"] = cpu_seconds(broker)
    replay_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = tumen_cmd("replay", str(path), env=env, cwd=tmp, timeout_s=1800)
    assert done.returncode == 0, done.stderr
    replay_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lags: list[tuple[float, float]] = []
    while True:
        with engine.connect() as c:
            stored = int(c.execute(text("SELECT COUNT(*) FROM articles")).scalar() or 0)
        lags.append((time.perf_counter() - start, sum(lag(p) for p in procs[1:])))
        if stored >= n:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - start
    with engine.connect() as c:
        lat = [
            float(r[0])
            for r in c.execute(
                text("SELECT EXTRACT(EPOCH FROM stored_at - fetched_at) FROM articles")
            )
        ]
    rss = {p.log_path.stem: round(rss_peak_mb(p.proc.pid), 1) for p in procs if p.proc}
    cpu = {k: round(cpu_seconds(p.proc.pid) - cpu_before[k], 1) for p in procs
           if p.proc and (k := p.log_path.stem) in cpu_before}  # fmt: skip
    if broker and "kafka-broker" in cpu_before:
        cpu["kafka-broker"] = round(cpu_seconds(broker) - cpu_before["kafka-broker"], 1)
    cpu["replay"] = round(
        replay_after.ru_utime + replay_after.ru_stime
        - replay_before.ru_utime - replay_before.ru_stime, 1
    )  # fmt: skip
    for p in procs:
        p.stop(60)
    q = statistics.quantiles(lat, n=100)
    return {
        "replicas": replicas,
        "articles": n,
        "seconds": round(elapsed, 1),
        "articles_per_s": round(n / elapsed, 1),
        "latency_p50_s": round(q[49], 1),
        "latency_p95_s": round(q[94], 1),
        "peak_rss_mb": rss,
        "cpu_s": cpu,
        "lag_over_time": [(round(t), int(v)) for t, v in lags[:: max(1, len(lags) // 10)]],
    }


def fresh_database(server_url: str) -> str:
    """A new, empty database on the test server, so earlier runs cannot skew the figures."""
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    n = int(os.environ.get("BENCH_ARTICLES", "10000"))
    bootstrap = os.environ["TUMEN_TEST_KAFKA"]
    pg_url = fresh_database(os.environ["TUMEN_TEST_DATABASE_URL"])
    tmp = Path(tempfile.mkdtemp(prefix="tumen-bench-"))
    path = tmp / "articles.jsonl"
    write_articles(path, n)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env |= {
        "TUMEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TUMEN_DATABASE_URL": pg_url,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TUMEN_LOG_LEVEL": "WARNING",
    }
    rate = classify_rate(path)
    print(f"tumen classify (in-process, same articles): {rate:.1f} articles/s")
    for replicas in (1, 2):
        r = run_once(replicas, path, n, env, tmp, pg_url)
        ratio = float(r["articles_per_s"]) / rate  # type: ignore[arg-type]
        print(json.dumps(r))
        print(f"  end-to-end / classify rate: {ratio:.2f} (goal >= 0.90)")


if __name__ == "__main__":
    main()
