"""The SSRF guard: feed and page URLs may only reach public addresses.

The check is made on the *resolved* address, at two points: before every request (including each
redirect hop), and again when a connection is opened, through :class:`GuardedBackend`, which then
connects to the very address it checked. So a DNS answer that changes between the check and the
connection (rebinding) cannot slip a private address through. Resolutions are cached for a minute,
which also makes the two checks agree.

A host is refused when *any* of its addresses is private, loopback, link-local, shared (CGNAT),
reserved or multicast, unless ``allow_private_addresses`` is set (tests on 127.0.0.1 need it).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore

from producers.errors import AddressRefused, FetchError

__all__ = ["AddressGuard", "GuardedBackend", "Resolver", "is_forbidden", "system_resolver"]

# (host, port) -> addresses, most preferred first. Blocking is fine: it runs in a worker thread.
Resolver = Callable[[str, int], Sequence[str]]

_CACHE_TTL_S = 60.0


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), addresses in its order, deduplicated."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def is_forbidden(address: str) -> bool:
    """True for every address that is not globally routable unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not ip.is_global or ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class AddressGuard:
    """Resolves hosts and refuses forbidden addresses; returns the address to connect to."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None) -> None:
        self._allow_private = allow_private
        self._resolver = resolver or system_resolver
        self._cache: dict[tuple[str, int], tuple[float, str]] = {}

    async def resolve(self, host: str, port: int) -> str:
        key = (host.lower(), port)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        literal = _literal(host)
        addresses = [literal] if literal else await self._lookup(host, port)
        chosen = self._check(host, addresses)
        self._cache[key] = (time.monotonic() + _CACHE_TTL_S, chosen)
        return chosen

    async def _lookup(self, host: str, port: int) -> list[str]:
        try:
            addresses = list(await asyncio.to_thread(self._resolver, host, port))
        except (OSError, UnicodeError) as exc:
            raise FetchError("dns", f"{host}: {exc}") from exc
        if not addresses:
            raise FetchError("dns", f"{host}: no address")
        return addresses

    def _check(self, host: str, addresses: Iterable[str]) -> str:
        addresses = list(addresses)
        if not self._allow_private:
            for address in addresses:
                try:
                    forbidden = is_forbidden(address)
                except ValueError:
                    raise FetchError("dns", f"{host}: bad address {address!r}") from None
                if forbidden:
                    raise AddressRefused(detail=f"{host} resolves to {address}")
        return addresses[0]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard approved."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._guard.resolve(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(detail="unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
