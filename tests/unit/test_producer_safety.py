"""The SSRF guard, decided on resolved addresses; resolvers here answer without any network."""

from __future__ import annotations

import asyncio

import httpcore
import pytest

from producers.errors import AddressRefused, FetchError
from producers.safety import AddressGuard, is_forbidden


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "192.0.2.1",
    ],
)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not is_forbidden(address)


def _resolve(guard: AddressGuard, host: str) -> str:
    return asyncio.run(guard.resolve(host, 443))


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.0.0.7"]

    with pytest.raises(AddressRefused, match=r"10\.0\.0\.7"):
        _resolve(AddressGuard(allow_private=False, resolver=resolver), "intranet.example")
    assert asked == ["intranet.example"]
    allowed = AddressGuard(allow_private=True, resolver=resolver)
    assert _resolve(allowed, "intranet.example") == "10.0.0.7"


def test_any_private_answer_refuses_the_host() -> None:
    guard = AddressGuard(allow_private=False, resolver=lambda h, p: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(AddressRefused):
        _resolve(guard, "mixed.example")


def test_literals_loopback_refused_by_default_public_allowed() -> None:
    guard = AddressGuard(allow_private=False, resolver=lambda h, p: pytest.fail("no lookup"))
    with pytest.raises(AddressRefused):
        _resolve(guard, "127.0.0.1")
    with pytest.raises(AddressRefused):
        _resolve(guard, "[::1]")
    assert _resolve(guard, "93.184.216.34") == "93.184.216.34"


def test_resolution_failure_is_a_dns_error() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchError) as info:
        _resolve(AddressGuard(allow_private=False, resolver=fail), "nowhere.invalid")
    assert info.value.reason == "dns"


def test_the_connection_itself_is_guarded() -> None:
    """Even past the per-request check (e.g. DNS changed in between), the network backend
    resolves again through the guard and refuses before opening a socket."""
    from producers.safety import GuardedBackend

    class NoNetwork(httpcore.AsyncNetworkBackend):
        async def connect_tcp(self, *args: object, **kwargs: object) -> httpcore.AsyncNetworkStream:
            raise AssertionError("must not connect")

    backend = GuardedBackend(
        AddressGuard(allow_private=False, resolver=lambda h, p: ["127.0.0.1"]), NoNetwork()
    )
    with pytest.raises(AddressRefused):
        asyncio.run(backend.connect_tcp("rebound.example", 80))
    with pytest.raises(AddressRefused):
        asyncio.run(backend.connect_unix_socket("/var/run/docker.sock"))
