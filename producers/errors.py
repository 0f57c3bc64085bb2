"""Errors of the producer. Every one carries a short ``reason`` used as a metric label.

ProducerError
├── FetchError        a feed or page could not be fetched (timeout, size, redirects, HTTP status)
│   ├── AddressRefused    the host resolves to a private, loopback or link-local address
│   └── RetryLater        HTTP 429/503; ``retry_after_s`` holds the server's Retry-After
├── FeedError         the bytes are not a usable feed (broken, hostile, too many items)
├── OpmlError         an OPML file could not be read
└── FeedManagementError   ``tumen feeds`` was asked for something impossible (unknown feed, ...)

Malformed feeds are data, not crashes: the service turns these errors into a poll outcome with
the reason, a metric and a backoff; they never escape a round.
"""

from __future__ import annotations

from tumen.errors import TumenError

__all__ = [
    "AddressRefused",
    "FeedError",
    "FeedManagementError",
    "FetchError",
    "OpmlError",
    "ProducerError",
    "RetryLater",
]


class ProducerError(TumenError):
    """Root of the producer's errors."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __reduce__(self) -> tuple[type[ProducerError], tuple[str, str]]:
        return (type(self), (self.reason, self.detail))


class FetchError(ProducerError):
    """A feed or page could not be fetched."""


class AddressRefused(FetchError):
    """The URL's host resolves to an address the SSRF guard refuses."""

    def __init__(self, reason: str = "address_refused", detail: str = "") -> None:
        super().__init__(reason, detail)


class RetryLater(FetchError):
    """The server asked us to come back later (429/503), maybe saying when."""

    def __init__(self, reason: str, detail: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(reason, detail)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[type[RetryLater], tuple[str, str, float | None]]:  # type: ignore[override]
        return (type(self), (self.reason, self.detail, self.retry_after_s))


class FeedError(ProducerError):
    """The document is not a usable feed."""


class OpmlError(ProducerError):
    """An OPML file could not be read."""


class FeedManagementError(ProducerError):
    """A ``tumen feeds`` action that cannot be done (unknown feed, name taken, bad URL)."""
