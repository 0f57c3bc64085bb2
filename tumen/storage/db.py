"""Engine creation and start-up waiting, the same for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tumen.config import DatabaseSettings
from tumen.errors import ConfigError, StorageUnavailable
from tumen.retry import wait_until_reachable

__all__ = ["as_utc", "create_db_engine", "redact", "session_factory", "wait_for_database"]

log = logging.getLogger(__name__)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything Tumen stores is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def redact(url: str) -> str:
    """The URL with any password hidden, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database url>"


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def create_db_engine(settings: DatabaseSettings) -> Engine:
    try:
        url = make_url(settings.url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}", key="database.url") from exc
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10},
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def wait_for_database(engine: Engine, *, timeout_s: float) -> None:
    """Retry ``SELECT 1`` with backoff; raise StorageUnavailable when the time is up."""

    def probe(_remaining_s: float) -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    wait_until_reachable(
        probe,
        what=f"database {redact(str(engine.url))}",
        timeout_s=timeout_s,
        retry_on=(SQLAlchemyError,),
        error=StorageUnavailable,
    )
