"""``tumen feeds ...``, ``tumen poll --once`` and ``tumen replay`` on the embedded bus and SQLite,
through the real argument parser. The profile is a test file whose feeds are on 127.0.0.1."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from producers import feeds_cli
from producers.errors import OpmlError
from producers.opml import read_opml
from producers.replay import replay_file
from producers.service import poll_once
from tests.support.feedserver import FeedServer, rss
from tumen.bus.base import TOPICS
from tumen.cli import build_parser
from tumen.config import load_settings
from tumen.runtime import Runtime
from tumen.schemas import decode_article


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def rt(tmp_path: Path, server: FeedServer) -> Iterator[Runtime]:
    profile = {
        "name": "test",
        "event_types": [{"name": "arms_transfer", "definition": "Weapons changing hands."}],
        "feeds": [
            {"name": "wire", "url": server.url("/wire.xml")},
            {"name": "gone", "url": server.url("/gone.xml")},
        ],
    }
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(profile))
    settings = load_settings(
        env={
            "TUMEN_DATABASE_URL": f"sqlite:///{tmp_path / 'tumen.db'}",
            "TUMEN_PROFILE": str(tmp_path / "profile.yaml"),
            "TUMEN_ALLOW_PRIVATE_ADDRESSES": "true",
        }
    )
    settings = settings.model_copy(
        update={
            "embedded": settings.embedded.model_copy(
                update={"path": str(tmp_path / "bus.sqlite3")}
            ),
            "producer": settings.producer.model_copy(update={"parse_workers": 0}),
        }
    )
    runtime = Runtime(settings=settings)
    yield runtime
    runtime.close()


def feeds(rt: Runtime, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return feeds_cli.dispatch(build_parser().parse_args(["feeds", *argv]), rt, out), out.getvalue()


def published(rt: Runtime) -> list[str]:
    consumer = rt.bus().consumer(group="test", topics=[TOPICS["articles"]])
    return [decode_article(r.value).title for r in consumer.poll(max_records=1000, timeout_s=0.5)]


def test_feeds_add_list_remove(rt: Runtime, server: FeedServer) -> None:
    url = server.url("/x.xml")
    assert feeds(rt, "add", url, "--name", "x", "--interval", "600", "--full-text") == (
        0,
        f"added: x {url}\n",
    )
    assert feeds(rt, "add", url)[1].startswith("already present: x")
    code, listing = feeds(rt, "list")
    assert code == 0
    header, row = listing.splitlines()[:2]
    assert header.split()[:4] == ["name", "state", "origin", "interval_s"]
    assert row.split()[:4] == ["x", "enabled", "cli", "600"]
    assert feeds(rt, "remove", "x") == (0, "removed: x\n")
    assert feeds(rt, "remove", "x")[0] == 1
    assert feeds(rt, "add", "ftp://example.org/feed")[0] == 2
    assert feeds(rt, "add", url, "--interval", "5")[0] == 2


def test_poll_once_syncs_the_profile_and_prints_a_table(rt: Runtime, server: FeedServer) -> None:
    server.add("/wire.xml", body=rss([{"title": "Shells by rail", "link": "https://w.example/1"}]))
    out = io.StringIO()
    assert poll_once(rt, out) == 0
    table = out.getvalue().splitlines()
    assert table[0].split()[:2] == ["feed", "outcome"]
    rows = {line.split()[0]: line.split()[1] for line in table[1:-1]}
    assert rows == {"gone": "error", "wire": "ok"}
    assert "http_404" in out.getvalue() and "1 article(s) published" in table[-1]
    assert published(rt) == ["Shells by rail"]


def test_removed_profile_feed_is_not_added_back(rt: Runtime, server: FeedServer) -> None:
    server.add("/wire.xml", body=rss([]))
    poll_once(rt, io.StringIO())
    code, text = feeds(rt, "remove", "gone")
    assert code == 0 and "profile" in text
    out = io.StringIO()
    poll_once(rt, out)
    assert "gone" not in out.getvalue()
    assert "gone" not in feeds(rt, "list")[1]
    assert feeds(rt, "add", server.url("/gone.xml"))[1].startswith("added: gone")  # revived


def test_opml_export_import_round_trip(rt: Runtime, server: FeedServer, tmp_path: Path) -> None:
    feeds(rt, "add", server.url("/a.xml"), "--name", "a", "--interval", "900", "--full-text")
    feeds(rt, "add", server.url("/b.xml"), "--name", "b")
    target = tmp_path / "feeds.opml"
    assert feeds(rt, "export", "--output", str(target))[0] == 0
    entries = {e.url: e for e in read_opml(target.read_bytes())}
    assert entries[server.url("/a.xml")].interval_s == 900
    assert entries[server.url("/a.xml")].full_text
    feeds(rt, "remove", "a")
    feeds(rt, "remove", "b")
    assert feeds(rt, "import", str(target)) == (
        0,
        "imported 2 feed(s), 0 already present, 0 refused\n",
    )
    assert feeds(rt, "import", str(target))[1].startswith("imported 0 feed(s), 2 already present")


def test_opml_from_another_reader_with_folders(rt: Runtime, tmp_path: Path) -> None:
    opml = tmp_path / "reader.opml"
    opml.write_text("""<?xml version="1.0"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
  <outline text="News"><outline type="rss" text="Daily Example" xmlUrl="https://daily.example/feed"/>
    <outline text="Nested"><outline type="rss" title="Wire" xmlurl="https://wire.example/rss"/></outline>
  </outline>
  <outline type="rss" text="Bad" xmlUrl="javascript:alert(1)"/>
</body></opml>""")
    code, text = feeds(rt, "import", str(opml))
    assert (code, text) == (1, "imported 2 feed(s), 0 already present, 1 refused\n")
    names = [line.split()[0] for line in feeds(rt, "list")[1].splitlines()[1:-1]]
    assert names == ["daily-example", "wire"]


def test_hostile_opml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OpmlError) as info:
        read_opml(
            b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<opml version="2.0"><body><outline xmlUrl="&x;"/></body></opml>'
        )
    assert info.value.reason == "entity_declaration"
    with pytest.raises(OpmlError, match="not_opml"):
        read_opml(b"<rss/>")
    with pytest.raises(OpmlError, match="malformed"):
        read_opml(b"<opml><body>")


def test_replay(rt: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {
            "url": "https://a.example/1",
            "title": "One",
            "content": "Text one.",
            "published_at": "2024-03-04T10:00:00Z",
            "feed": "archive",
            "language": "en",
        },
        "not json",
        {"url": "https://a.example/2", "title": "Two"},
        {"url": "https://a.example/3?utm_source=x", "title": "Three", "content": "Text three."},
    ]
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    assert replay_file(rt, path, rate=0) == 1
    err = capsys.readouterr().err
    assert "line 2: not JSON" in err and "line 3: content: missing" in err
    consumer = rt.bus().consumer(group="replay-test", topics=[TOPICS["articles"]])
    records = consumer.poll(max_records=10, timeout_s=0.5)
    articles = [decode_article(r.value) for r in records]
    assert [a.title for a in articles] == ["One", "Three"]
    assert articles[0].feed == "archive" and articles[0].published_at is not None
    assert articles[1].url == "https://a.example/3?utm_source=x"
    assert [r.key for r in records] == [a.id.encode() for a in articles]


def test_replay_rate_limit(rt: Runtime, tmp_path: Path) -> None:
    import time

    path = tmp_path / "a.jsonl"
    path.write_text(
        "".join(
            json.dumps({"url": f"https://a.example/{i}", "title": str(i), "content": "x"}) + "\n"
            for i in range(6)
        )
    )
    started = time.monotonic()
    assert replay_file(rt, path, rate=10) == 0
    assert time.monotonic() - started >= 0.45  # 6 articles at 10/s


class _DownBus:
    """A bus whose broker is unreachable once publishing starts."""

    kind = "test"

    def __init__(self) -> None:
        from tests.support.feedserver import RecordingProducer

        self.producer_ = RecordingProducer()
        self.producer_.down = True

    def ensure_topics(self, topics: object) -> None:
        """Nothing to create."""

    def producer(self) -> object:
        return self.producer_

    def close(self) -> None:
        """Nothing to close."""


def test_poll_once_exits_1_when_the_broker_is_down(rt: Runtime, server: FeedServer) -> None:
    server.add("/wire.xml", body=rss([{"title": "Held", "link": "https://w.example/1"}]))
    rt._bus = _DownBus()  # type: ignore[assignment]
    out = io.StringIO()
    assert poll_once(rt, out) == 1
    assert "held: broker unavailable" in out.getvalue()
    assert "broker unavailable" in out.getvalue().splitlines()[-1]
