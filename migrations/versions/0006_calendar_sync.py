"""Where each watched calendar's incremental sync stands, and moves in the calendar that were refused.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_sync",
        sa.Column("calendar_id", sa.String(1024), primary_key=True),
        sa.Column("sync_token", sa.Text, nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=True),
        sa.Column("full_synced_at", UTCDateTime(), nullable=True),
    )
    # Plain ADD COLUMN, never batch mode (it would drop the no-overlap triggers of 0001).
    op.add_column("bookings", sa.Column("calendar_conflict", sa.Text, nullable=True))


def downgrade():
    op.execute("ALTER TABLE bookings DROP COLUMN calendar_conflict")
    op.drop_table("calendar_sync")
