"""Waitlist entries: one address, one service, one studio day, a part of the day.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("signup_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        # The address in lower case: one address cannot join the same day twice, whatever its case.
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("part", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("email_key", "service_id", "day", name="uq_waitlist_email_service_day"),
        sa.CheckConstraint("part IN ('any', 'morning', 'afternoon', 'evening')", name="ck_waitlist_part"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_waitlist_day_service", "waitlist_entries", ["day", "service_id", "created_at"])
    op.create_index("ix_waitlist_signup", "waitlist_entries", ["signup_id"])


def downgrade():
    op.drop_index("ix_waitlist_signup", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_day_service", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
