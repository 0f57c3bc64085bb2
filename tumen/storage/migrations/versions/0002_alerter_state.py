"""Alerter state for rate and spike rules, and views for the dashboards.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# Views that make the dashboards' queries cheap and identical on SQLite and PostgreSQL.
VIEWS = {
    "v_events_per_type_day": """
        SELECT type, CAST(occurred_at AS DATE) AS day, COUNT(*) AS events
        FROM events GROUP BY type, CAST(occurred_at AS DATE)""",
    "v_latest_events": """
        SELECT e.id, e.type, e.confidence, e.evidence, e.actors, e.direction_from,
               e.direction_to, e.items, e.quantities, e.locations, e.time_text,
               e.occurred_at, a.title, a.url, a.feed
        FROM events e JOIN articles a ON a.id = e.article_id""",
    "v_open_alerts": """
        SELECT id, rule, severity, dedup_key, sources, notifications, fired_at,
               last_notified_at, article_id, reason
        FROM alerts WHERE status = 'open'""",
}


def upgrade() -> None:
    op.create_table(
        "alert_articles",
        sa.Column("article_id", sa.String(64), primary_key=True),
        sa.Column("observed_at", TZ, nullable=False),
    )
    op.create_index("ix_alert_articles_observed_at", "alert_articles", ["observed_at"])
    op.create_table(
        "alert_observations",
        sa.Column("article_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(100), primary_key=True),
        sa.Column("observed_at", TZ, nullable=False),
    )
    op.create_index(
        "ix_alert_obs_type_time", "alert_observations", ["type", "actor", "observed_at"]
    )
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
    op.drop_table("alert_observations")
    op.drop_table("alert_articles")
