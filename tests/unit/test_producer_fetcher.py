"""The fetcher against the local server (127.0.0.1) and, for the SSRF redirect case, a mock
transport: no test sends a packet outside the loopback interface."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from producers.errors import AddressRefused, FetchError, RetryLater
from producers.fetcher import USER_AGENT, Fetched, Fetcher
from producers.politeness import HostLimiter
from producers.safety import AddressGuard, Resolver
from tests.support.feedserver import FeedServer, gzip_bomb, loopback_resolver, make_settings
from tumen import __version__

T = TypeVar("T")


def run_with_fetcher(
    work: Callable[[Fetcher], Awaitable[T]],
    *,
    allow_private: bool = True,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **producer: Any,
) -> T:
    settings = make_settings(**producer).producer

    async def main() -> T:
        guard = AddressGuard(allow_private=allow_private, resolver=resolver)
        limiter = HostLimiter(
            per_host=settings.per_host_concurrency, spacing_s=settings.per_host_spacing_s
        )
        async with Fetcher(
            settings=settings, guard=guard, limiter=limiter, transport=transport
        ) as fetcher:
            return await work(fetcher)

    return asyncio.run(main())


def fetch(url: str, **kwargs: Any) -> Fetched:
    options = {k: kwargs.pop(k) for k in ("etag", "last_modified") if k in kwargs}
    return run_with_fetcher(lambda f: f.fetch(url, **options), **kwargs)


@pytest.fixture
def server() -> Any:
    with FeedServer() as srv:
        yield srv


def test_user_agent_and_encodings(server: FeedServer) -> None:
    url = server.add("/feed", body=b"<rss/>" * 100, gzip=True)
    got = fetch(url)
    assert got.status == 200 and got.body == b"<rss/>" * 100
    sent = server.hits_for("/feed")[0].headers
    assert (
        sent["user-agent"]
        == USER_AGENT
        == (f"Tumen/{__version__} (+https://github.com/tumen-project/tumen)")
    )
    assert sent["accept-encoding"] == "gzip, deflate"


def test_conditional_get_200_then_304(server: FeedServer) -> None:
    stamp = "Mon, 04 Mar 2024 10:00:00 GMT"
    url = server.add("/feed", body=b"<rss/>", etag='"v1"', last_modified=stamp)
    first = fetch(url)
    assert (first.status, first.etag, first.last_modified) == (200, '"v1"', stamp)
    second = fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert second.status == 304 and second.not_modified and second.body == b""
    hit = server.hits_for("/feed")[1].headers
    assert hit["if-none-match"] == '"v1"' and hit["if-modified-since"] == stamp


def test_redirects_are_followed_up_to_the_limit(server: FeedServer) -> None:
    for i in range(5):
        server.add(f"/r{i}", status=301 if i % 2 else 302, location=f"/r{i + 1}")
    final = server.add("/r5", body=b"<rss/>")
    got = fetch(server.url("/r0"))
    assert got.url == final and len(got.redirects) == 5
    server.add("/r5", status=307, location="/r6")
    server.add("/r6", body=b"<rss/>")
    with pytest.raises(FetchError) as info:
        fetch(server.url("/r0"))
    assert info.value.reason == "too_many_redirects"


def test_redirect_loop_is_detected(server: FeedServer) -> None:
    server.add("/a", status=302, location="/b")
    server.add("/b", status=302, location="/a")
    with pytest.raises(FetchError) as info:
        fetch(server.url("/a"))
    assert info.value.reason == "redirect_loop"
    assert len(server.hits) == 2  # noticed before asking for /a a second time


def test_status_errors_and_retry_after(server: FeedServer) -> None:
    with pytest.raises(FetchError) as info:
        fetch(server.url("/missing"))
    assert info.value.reason == "http_404"
    server.add("/busy", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RetryLater) as later:
        fetch(server.url("/busy"))
    assert later.value.reason == "http_429" and later.value.retry_after_s == 120
    when = (datetime.now(UTC) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    server.add("/down", status=503, headers={"Retry-After": when})
    with pytest.raises(RetryLater) as later:
        fetch(server.url("/down"))
    assert later.value.retry_after_s is not None and 3500 < later.value.retry_after_s <= 3600


def test_body_cap_declared_and_streamed(server: FeedServer) -> None:
    url = server.add("/big", body=b"x" * 300_000)
    with pytest.raises(FetchError) as info:
        fetch(url, max_body_bytes=100_000)
    assert info.value.reason == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"x" * 65536

    def endless(request: httpx.Request) -> httpx.Response:  # no Content-Length: streamed
        return httpx.Response(200, content=chunks())

    with pytest.raises(FetchError) as info:
        fetch(
            "http://127.0.0.1/endless",
            transport=httpx.MockTransport(endless),
            max_body_bytes=100_000,
        )
    assert info.value.reason == "body_too_large"


def test_gzip_bomb_is_cut_at_the_decompressed_cap(server: FeedServer) -> None:
    url = server.add("/bomb", body=gzip_bomb(50 << 20), encoded_as="gzip")
    with pytest.raises(FetchError) as info:
        fetch(url, max_body_bytes=1 << 20)
    assert info.value.reason == "decompressed_too_large"


def test_slow_drip_is_cut_off_by_the_deadline(server: FeedServer) -> None:
    url = server.add("/drip", body=b"<rss>" + b" " * 100 + b"</rss>", drip_s=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, deadline_s=1.0, read_timeout_s=5.0)
    assert info.value.reason == "deadline"
    assert time.monotonic() - started < 3


def test_loopback_is_refused_by_default(server: FeedServer) -> None:
    url = server.add("/feed", body=b"<rss/>")
    with pytest.raises(AddressRefused):
        fetch(url, allow_private=False)
    assert server.hits == []  # refused before connecting
    assert fetch(url, allow_private=True).status == 200


def test_redirect_to_a_private_address_is_refused() -> None:
    """public.example resolves to a public address, its redirect target to a private one. The
    mock transport answers instead of the network, so nothing is sent anywhere."""
    answers = {"public.example": ["93.184.216.34"], "internal.example": ["10.0.0.5"]}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(302, headers={"Location": "http://internal.example/admin"})

    with pytest.raises(AddressRefused, match=r"internal\.example"):
        fetch(
            "http://public.example/feed",
            allow_private=False,
            resolver=lambda host, port: answers[host],
            transport=httpx.MockTransport(handler),
        )
    assert seen == ["public.example"]


def test_per_host_concurrency_is_bounded(server: FeedServer) -> None:
    for i in range(6):
        server.add(f"/f{i}", body=b"<rss/>", delay_s=0.3)
    urls = [server.url(f"/f{i}", host="one.test") for i in range(6)]
    urls += [server.url(f"/f{i}", host=f"h{i}.test") for i in range(6)]

    async def all_at_once(fetcher: Fetcher) -> list[Fetched]:
        return await asyncio.gather(*(fetcher.fetch(u) for u in urls))

    got = run_with_fetcher(all_at_once, resolver=loopback_resolver, per_host_concurrency=2)
    assert all(r.status == 200 for r in got)
    assert server.max_in_flight["one.test"] == 2
    assert max(server.max_in_flight[f"h{i}.test"] for i in range(6)) == 1


def test_per_host_spacing(server: FeedServer) -> None:
    server.add("/f", body=b"<rss/>")
    url = server.url("/f", host="spaced.test")

    async def three(fetcher: Fetcher) -> None:
        await asyncio.gather(*(fetcher.fetch(url) for _ in range(3)))

    run_with_fetcher(three, resolver=loopback_resolver, per_host_spacing_s=0.3)
    starts = sorted(h.at for h in server.hits_for("/f"))
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(starts))
