"""HTTP fetching for feeds and article pages: httpx with every limit the issue asks for.

- connect/read timeouts, plus a deadline over the whole exchange of each feed (all redirect hops
  and the body), so a server that drips one byte a second — or drips its headers — is cut off;
- a body cap enforced while streaming and again after decompression (:mod:`producers.compression`);
- at most ``max_redirects`` redirects, followed by hand so that each hop passes the SSRF guard and
  the host's politeness limits, and loops are detected;
- conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the stored ETag / Last-Modified;
  a 304 is returned as such, without a body, so it costs no parsing;
- 429 and 503 raise :class:`RetryLater` with the server's Retry-After.

Proxies from the environment are ignored on purpose: the guard must see the real destination.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin

import httpcore
import httpx

from producers.compression import ACCEPT_ENCODING, BoundedDecoder
from producers.errors import FetchError, RetryLater
from producers.politeness import HostLimiter, parse_retry_after
from producers.safety import AddressGuard, GuardedBackend
from tumen import __version__
from tumen.config import ProducerSettings

__all__ = ["FEED_ACCEPT", "PAGE_ACCEPT", "USER_AGENT", "Fetched", "Fetcher", "host_of"]

USER_AGENT = f"Tumen/{__version__} (+https://github.com/tumen-project/tumen)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Fetched:
    """A completed exchange: 200 with the decoded body, or 304 without one."""

    status: int
    url: str  # after redirects: the base for relative links
    headers: dict[str, str]  # lower-case names
    body: bytes
    redirects: tuple[str, ...] = ()

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag") or None

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified") or None


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str


def host_of(url: str) -> str:
    """The politeness key of a URL: its lower-cased host name ('' when it has none)."""
    try:
        return httpx.URL(url).host.lower()
    except httpx.InvalidURL:
        return ""


def guarded_transport(guard: AddressGuard, settings: ProducerSettings) -> httpx.AsyncHTTPTransport:
    """httpx's transport, connecting through :class:`GuardedBackend`."""
    ssl_context = httpx.create_ssl_context(trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False, retries=0)
    # httpx offers no public way to choose httpcore's network backend; swap its pool for one
    # built with the same settings and ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=settings.concurrency * 2 + 8,
        max_keepalive_connections=settings.concurrency,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(guard),
    )
    return transport


def _map_httpx(exc: Exception) -> FetchError:
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError("connect_timeout", str(exc) or "connect timed out")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError("read_timeout", str(exc) or "read timed out")
    if isinstance(exc, httpx.ConnectError):
        return FetchError("connect", str(exc))
    if isinstance(exc, httpx.ProtocolError):
        return FetchError("protocol", str(exc))
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError("bad_url", str(exc))
    return FetchError("network", f"{type(exc).__name__}: {exc}")


class Fetcher:
    """One per polling round (an httpx client is bound to its event loop)."""

    def __init__(
        self,
        *,
        settings: ProducerSettings,
        guard: AddressGuard,
        limiter: HostLimiter,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._guard = guard
        self._limiter = limiter
        # Global bound, taken after the host's slot so that waiting for a busy host never holds
        # one of the global slots.
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._client = httpx.AsyncClient(
            transport=transport or guarded_transport(guard, settings),
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> Fetched:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        budget = self._settings.deadline_s
        visited: set[str] = set()
        redirects: list[str] = []
        current = url
        for _ in range(self._settings.max_redirects + 1):
            host, port = self._target(current, visited)
            await self._guard.resolve(host, port)  # typed refusal before any request
            async with self._limiter.slot(host), self._slots:
                await self._limiter.wait_turn(host)
                started = asyncio.get_running_loop().time()
                result = await self._exchange(current, headers, budget)
                budget -= asyncio.get_running_loop().time() - started
            if isinstance(result, Fetched):
                return Fetched(
                    result.status, current, result.headers, result.body, tuple(redirects)
                )
            current = urljoin(current, result.location)
            redirects.append(current)
        raise FetchError("too_many_redirects", f"more than {self._settings.max_redirects}")

    def _target(self, url: str, visited: set[str]) -> tuple[str, int]:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError("bad_url", str(exc)) from exc
        if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
            raise FetchError("bad_url", f"not an http(s) URL: {url[:200]}")
        key = str(parsed.copy_with(fragment=None))
        if key in visited:
            raise FetchError("redirect_loop", f"{key[:200]} visited twice")
        visited.add(key)
        return parsed.host, parsed.port or _DEFAULT_PORTS[parsed.scheme]

    async def _exchange(
        self, url: str, headers: dict[str, str], budget: float
    ) -> Fetched | _Redirect:
        if budget <= 0:
            raise FetchError("deadline", f"exceeded {self._settings.deadline_s:g} s")
        try:
            async with asyncio.timeout(budget):
                return await self._send(url, headers)
        except TimeoutError:
            raise FetchError("deadline", f"exceeded {self._settings.deadline_s:g} s") from None
        except httpx.HTTPError as exc:
            raise _map_httpx(exc) from exc
        except httpx.InvalidURL as exc:
            raise FetchError("bad_url", str(exc)) from exc

    async def _send(self, url: str, headers: dict[str, str]) -> Fetched | _Redirect:
        response = await self._client.send(
            self._client.build_request("GET", url, headers=headers), stream=True
        )
        try:
            status = response.status_code
            got = {k.lower(): v for k, v in response.headers.items()}
            if status in _REDIRECTS:
                if not got.get("location"):
                    raise FetchError("bad_redirect", f"HTTP {status} without Location")
                return _Redirect(got["location"])
            if status == 304:
                return Fetched(304, url, got, b"")
            if status in (429, 503):
                wait = parse_retry_after(got.get("retry-after"), now=datetime.now(UTC))
                raise RetryLater(f"http_{status}", f"Retry-After {got.get('retry-after')}", wait)
            if not 200 <= status < 300:
                raise FetchError(f"http_{status}", response.reason_phrase)
            return Fetched(200, url, got, await self._read_body(response, got))
        finally:
            await response.aclose()

    async def _read_body(self, response: httpx.Response, headers: dict[str, str]) -> bytes:
        cap = self._settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError("body_too_large", f"Content-Length {declared} > {cap}")
        decoder = BoundedDecoder(headers.get("content-encoding"), limit=cap)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += decoder.feed(chunk)
        body += decoder.flush()
        return bytes(body)
