"""Table definitions. ``feeds``, ``articles``, ``events`` and ``alerts`` are contract names.

Every write path is idempotent by a natural key:
- feeds: ``name`` and ``url`` unique;
- feed_items (the producer's dedup state and tombstones): ``article_id`` primary key;
- articles: ``id`` (the article id) primary key;
- events: unique ``(article_id, model_version, type, start, end)``;
- alerts: unique ``dedup_key``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Alert",
    "AlertArticle",
    "AlertObservation",
    "Article",
    "Base",
    "Event",
    "Feed",
    "FeedItem",
]

JsonType = JSON().with_variant(JSONB(), "postgresql")
TZ = DateTime(timezone=True)


class Base(DeclarativeBase):
    pass


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(4096), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(20), default="cli")  # profile | cli | opml
    interval_s: Mapped[int | None] = mapped_column(Integer)
    full_text: Mapped[bool] = mapped_column(Boolean, default=False)
    etag: Mapped[str | None] = mapped_column(String(1024))
    last_modified: Mapped[str | None] = mapped_column(String(200))
    last_polled_at: Mapped[datetime | None] = mapped_column(TZ)
    last_success_at: Mapped[datetime | None] = mapped_column(TZ)
    last_new_item_at: Mapped[datetime | None] = mapped_column(TZ)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(TZ)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(TZ)
    retry_after_until: Mapped[datetime | None] = mapped_column(TZ)
    observed_interval_s: Mapped[float | None] = mapped_column(Float)
    items_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    articles_published: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(TZ)
    # 0002: a removed profile feed stays as a tombstone so the profile does not bring it back.
    removed_at: Mapped[datetime | None] = mapped_column(TZ)


class FeedItem(Base):
    """An article the producer has published (or recorded as a duplicate). Rows are tombstones:
    they stay when the item leaves the feed, so a reappearing item is not new."""

    __tablename__ = "feed_items"

    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(4096))
    content_hash: Mapped[str] = mapped_column(String(64))
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(TZ)
    last_seen_at: Mapped[datetime] = mapped_column(TZ)
    # 0002: the feed's own date text where it was missing, unparseable or in the future.
    published_raw: Mapped[str | None] = mapped_column(String(200))
    # 0002: SimHash is 128 bits: ``simhash`` holds the low half, this the high half.
    simhash_hi: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_feed_items_first_seen", "first_seen_at"),)


class FeedItemSource(Base):
    """(0002) Which feeds an article was seen in: an article new to a feed but known from another
    is a cross-feed duplicate, counted once, not at every poll."""

    __tablename__ = "feed_item_sources"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(TZ)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(4096))
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(TZ)
    fetched_at: Mapped[datetime] = mapped_column(TZ)
    language: Mapped[str | None] = mapped_column(String(35))
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    model_version: Mapped[str | None] = mapped_column(String(200))
    classified_at: Mapped[datetime | None] = mapped_column(TZ)
    stored_at: Mapped[datetime] = mapped_column(TZ)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    superseded_versions: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_fetched_at", "fetched_at"),
    )


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    actors: Mapped[list[str]] = mapped_column(JsonType, default=list)
    direction_from: Mapped[str | None] = mapped_column(String(100))
    direction_to: Mapped[str | None] = mapped_column(String(100))
    items: Mapped[list[str]] = mapped_column(JsonType, default=list)
    quantities: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    locations: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    time_text: Mapped[str | None] = mapped_column(Text)
    attribution: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(TZ)  # article published (or fetched) time

    __table_args__ = (
        UniqueConstraint("article_id", "model_version", "type", "start", "end", name="uq_events"),
        Index("ix_events_type_occurred", "type", "occurred_at"),
        Index("ix_events_article", "article_id"),
    )


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    rule: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    article_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[dict[str, Any]] = mapped_column(JsonType)
    reason: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[int] = mapped_column(Integer, default=1)
    source_articles: Mapped[list[str]] = mapped_column(JsonType, default=list)
    max_quantity: Mapped[float | None] = mapped_column(Float)
    notifications: Mapped[int] = mapped_column(Integer, default=1)
    fired_at: Mapped[datetime] = mapped_column(TZ)
    last_notified_at: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (Index("ix_alerts_status_fired", "status", "fired_at"),)


class AlertArticle(Base):
    """Every article the alerter has seen: the denominator of spike rules."""

    __tablename__ = "alert_articles"

    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (Index("ix_alert_articles_observed_at", "observed_at"),)


class AlertObservation(Base):
    """An article reporting an event type (per actor): the numerator of rate and spike rules."""

    __tablename__ = "alert_observations"

    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100), primary_key=True)  # "*" for any actor
    observed_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (Index("ix_alert_obs_type_time", "type", "actor", "observed_at"),)
