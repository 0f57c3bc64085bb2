"""A local HTTP server on 127.0.0.1 for producer tests and the benchmark.

Each path is a :class:`Route`: a body with a status and headers, optionally ETag/Last-Modified
(answering 304 to a matching conditional request), a redirect, Retry-After, gzip (or a body
already encoded, like a gzip bomb), a delay before answering, a slow drip of the body, and a hook
run on each request. The server records every request and the most requests in flight at once
per Host header, so tests can check the per-host limit. Host names other than 127.0.0.1 reach it
through a test resolver that maps them to 127.0.0.1; nothing ever leaves the loopback interface.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

from tumen.bus import Outgoing
from tumen.config import ProducerSettings, Settings
from tumen.errors import BusUnavailable
from tumen.profile import EventTypeSpec, FeedSpec, Profile

__all__ = [
    "FeedServer",
    "Hit",
    "RecordingProducer",
    "Route",
    "gzip_bomb",
    "loopback_resolver",
    "make_profile",
    "make_settings",
    "rss",
]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0  # before the status line
    drip_s: float | None = None  # one body byte every drip_s seconds
    gzip: bool = False
    encoded_as: str | None = None  # the body is already encoded so (e.g. "gzip" for a bomb)
    location: str | None = None
    hook: Callable[[], None] | None = None


@dataclass(frozen=True)
class Hit:
    path: str
    host: str
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived


def gzip_bomb(decoded_size: int) -> bytes:
    """gzip of ``decoded_size`` zero bytes (about 1,000:1), built in chunks."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    out = []
    for _ in range(decoded_size >> 20):
        out.append(packer.compress(chunk))
    out.append(packer.flush())
    return b"".join(out)


def loopback_resolver(host: str, port: int) -> list[str]:
    """Every name is 127.0.0.1: virtual hosts for tests, no DNS, no packet leaves the machine."""
    return ["127.0.0.1"]


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def add(self, path: str, route: Route | None = None, **fields: object) -> str:
        self.routes[path] = route or Route(**fields)  # type: ignore[arg-type]
        return self.url(path)

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- called by the handler threads -----------------------------------------------------
    def _enter(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)
            self._in_flight[hit.host] += 1
            self.max_in_flight[hit.host] = max(
                self.max_in_flight[hit.host], self._in_flight[hit.host]
            )

    def _leave(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] -= 1


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 256  # socketserver's 5 drops SYNs under 16+ parallel connects

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (deadline, size cap) is what tests provoke: not worth a traceback."""


def _not_modified(route: Route, headers: dict[str, str]) -> bool:
    if route.etag and headers.get("if-none-match") == route.etag:
        return True
    return bool(route.last_modified and headers.get("if-modified-since") == route.last_modified)


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            host = headers.get("host", "").rsplit(":", 1)[0]
            server._enter(Hit(self.path, host, headers, time.monotonic()))
            try:
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found\n")
                    return
                if route.hook is not None:
                    route.hook()
                if route.delay_s:
                    time.sleep(route.delay_s)
                self._answer(route, headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (deadline, size cap): that is what tests provoke
            finally:
                server._leave(host)

        def _answer(self, route: Route, headers: dict[str, str]) -> None:
            out = {"Content-Type": route.content_type, **route.headers}
            if route.etag:
                out["ETag"] = route.etag
            if route.last_modified:
                out["Last-Modified"] = route.last_modified
            if route.location:
                out["Location"] = route.location
            if _not_modified(route, headers):
                self._send(304, {k: v for k, v in out.items() if k != "Content-Type"}, b"")
                return
            body = route.body
            if route.gzip:
                body, out["Content-Encoding"] = gzip.compress(body), "gzip"
            elif route.encoded_as:
                out["Content-Encoding"] = route.encoded_as
            self._send(route.status, out, body, drip_s=route.drip_s)

        def _send(
            self, status: int, headers: dict[str, str], body: bytes, drip_s: float | None = None
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if drip_s is None:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(drip_s)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read ``FeedServer.hits`` instead."""

    return Handler


# -- helpers for producer tests ----------------------------------------------------------------
def rss(items: Sequence[dict[str, str]], *, title: str = "Test feed", channel: str = "") -> bytes:
    """An RSS 2.0 document; each item's keys become elements (values are escaped)."""
    body = "".join(
        "<item>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.items()) + "</item>"
        for item in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link>"
        f"<description>test</description>{channel}{body}</channel></rss>"
    ).encode()


def make_settings(**producer: Any) -> Settings:
    """Private addresses allowed (the server is on 127.0.0.1), fast and deterministic polling."""
    defaults: dict[str, Any] = {
        "min_interval_s": 1,
        "per_host_spacing_s": 0.0,
        "jitter": 0.0,
        "parse_workers": 0,
        "deadline_s": 10.0,
        "read_timeout_s": 5.0,
        "connect_timeout_s": 2.0,
        "publish_timeout_s": 5.0,
    }
    return Settings(
        allow_private_addresses=True, producer=ProducerSettings(**{**defaults, **producer})
    )


def make_profile(feeds: Sequence[FeedSpec] = ()) -> Profile:
    return Profile(
        name="test",
        feeds=list(feeds),
        event_types=[EventTypeSpec(name="arms_transfer", definition="Weapons changing hands.")],
    )


class RecordingProducer:
    """A bus producer that keeps what it is sent, and can play a broker that is down."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.down = False
        self.closed = False
        self.after_send: Callable[[], None] | None = None

    def send(self, messages: Sequence[Outgoing], *, timeout_s: float = 30.0) -> None:
        if self.down:
            raise BusUnavailable("test broker is down")
        self.sent.extend(messages)
        if self.after_send is not None:
            self.after_send()

    def close(self) -> None:
        self.closed = True

    @property
    def keys(self) -> list[str]:
        return [m.key.decode() for m in self.sent if m.key is not None]
