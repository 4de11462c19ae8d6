"""The outbox, and what bookings need for emails and reminders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, never batch mode: batch mode rebuilds a SQLite table,
    # which would drop the no-overlap triggers of migration 0001.
    op.add_column("bookings", sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("bookings", sa.Column("reminder_queued_at", UTCDateTime(), nullable=True))

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_outbox_status"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])


def downgrade():
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_table("outbox")
    op.execute("ALTER TABLE bookings DROP COLUMN reminder_queued_at")
    op.execute("ALTER TABLE bookings DROP COLUMN sequence")
