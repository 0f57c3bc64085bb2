"""Initial schema: feeds, feed_items, articles, events, alerts.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TZ = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("url", sa.String(4096), nullable=False, unique=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("interval_s", sa.Integer),
        sa.Column("full_text", sa.Boolean, nullable=False),
        sa.Column("etag", sa.String(1024)),
        sa.Column("last_modified", sa.String(200)),
        sa.Column("last_polled_at", TZ),
        sa.Column("last_success_at", TZ),
        sa.Column("last_new_item_at", TZ),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", TZ),
        sa.Column("consecutive_errors", sa.Integer, nullable=False),
        sa.Column("next_poll_at", TZ),
        sa.Column("retry_after_until", TZ),
        sa.Column("observed_interval_s", sa.Float),
        sa.Column("items_seen", sa.BigInteger, nullable=False),
        sa.Column("articles_published", sa.BigInteger, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "feed_items",
        sa.Column("article_id", sa.String(64), primary_key=True),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="SET NULL")),
        sa.Column("url", sa.String(4096), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("simhash", sa.BigInteger),
        sa.Column("duplicate_of", sa.String(64)),
        sa.Column("first_seen_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
    )
    op.create_index("ix_feed_items_first_seen", "feed_items", ["first_seen_at"])
    op.create_table(
        "articles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(200), nullable=False),
        sa.Column("url", sa.String(4096), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("published_at", TZ),
        sa.Column("fetched_at", TZ, nullable=False),
        sa.Column("language", sa.String(35)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(200)),
        sa.Column("classified_at", TZ),
        sa.Column("stored_at", TZ, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("superseded_versions", sa.Integer, nullable=False),
    )
    op.create_index("ix_articles_published_at", "articles", ["published_at"])
    op.create_index("ix_articles_fetched_at", "articles", ["fetched_at"])
    op.create_table(
        "events",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column(
            "article_id",
            sa.String(64),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer, nullable=False),
        sa.Column("actors", JSON, nullable=False),
        sa.Column("direction_from", sa.String(100)),
        sa.Column("direction_to", sa.String(100)),
        sa.Column("items", JSON, nullable=False),
        sa.Column("quantities", JSON, nullable=False),
        sa.Column("locations", JSON, nullable=False),
        sa.Column("time_text", sa.Text),
        sa.Column("attribution", sa.Text),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.UniqueConstraint(
            "article_id", "model_version", "type", "start", "end", name="uq_events"
        ),
    )
    op.create_index("ix_events_type_occurred", "events", ["type", "occurred_at"])
    op.create_index("ix_events_article", "events", ["article_id"])
    op.create_table(
        "alerts",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(200), nullable=False, unique=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("event", JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("sources", sa.Integer, nullable=False),
        sa.Column("source_articles", JSON, nullable=False),
        sa.Column("max_quantity", sa.Float),
        sa.Column("notifications", sa.Integer, nullable=False),
        sa.Column("fired_at", TZ, nullable=False),
        sa.Column("last_notified_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_alerts_status_fired", "alerts", ["status", "fired_at"])


def downgrade() -> None:
    for table in ("alerts", "events", "articles", "feed_items", "feeds"):
        op.drop_table(table)
