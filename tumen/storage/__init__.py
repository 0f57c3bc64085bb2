"""SQL storage: tables, engines and migrations (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from tumen.storage.db import create_db_engine, session_factory, wait_for_database
from tumen.storage.migrate import upgrade
from tumen.storage.tables import Alert, Article, Base, Event, Feed, FeedItem

__all__ = [
    "Alert",
    "Article",
    "Base",
    "Event",
    "Feed",
    "FeedItem",
    "create_db_engine",
    "session_factory",
    "upgrade",
    "wait_for_database",
]
