"""The exception tree. Every error Tumen raises on purpose derives from :class:`TumenError`.

TumenError
├── ConfigError          configuration or profile file invalid (CLI: one line, exit 2)
├── SchemaError          a message failed decoding or validation (consumers dead-letter it)
├── BusError             the message bus failed
│   └── BusUnavailable   broker unreachable; transient, retry with backoff
└── StorageError         the database failed
    └── StorageUnavailable  database unreachable; transient, retry with backoff
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "BusUnavailable",
    "ConfigError",
    "SchemaError",
    "StorageError",
    "StorageUnavailable",
    "TumenError",
]


class TumenError(Exception):
    """Root of all Tumen errors."""


class ConfigError(TumenError):
    """Invalid configuration. ``str()`` is a single line naming the file and the key."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        where = ": ".join(p for p in (source, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class SchemaError(TumenError):
    """A message could not be decoded or did not validate; ``reason`` says why."""

    def __init__(self, reason: str, *, schema: str | None = None) -> None:
        self.reason = reason
        self.schema = schema
        super().__init__(f"{schema}: {reason}" if schema else reason)


class BusError(TumenError):
    """The message bus failed."""


class BusUnavailable(BusError):
    """The broker cannot be reached; callers retry with backoff."""


class StorageError(TumenError):
    """The database failed."""


class StorageUnavailable(StorageError):
    """The database cannot be reached; callers retry with backoff."""
