"""Producer state: feed tombstones, original date text, the high half of the 128-bit SimHash,
per-feed sightings of articles.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("feeds", sa.Column("removed_at", TZ))
    op.add_column("feed_items", sa.Column("published_raw", sa.String(200)))
    op.add_column("feed_items", sa.Column("simhash_hi", sa.BigInteger))
    op.create_table(
        "feed_item_sources",
        sa.Column(
            "feed_id",
            sa.Integer,
            sa.ForeignKey("feeds.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("article_id", sa.String(64), primary_key=True),
        sa.Column("first_seen_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_item_sources")
    with op.batch_alter_table("feed_items") as batch:
        batch.drop_column("simhash_hi")
        batch.drop_column("published_raw")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("removed_at")
