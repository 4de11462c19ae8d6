"""Indexes for reads that must not slow down as history grows.

Busy-time queries scan bookings and calendar events from the end column up
(everything that ends after the range begins: the future, never the past),
and the cap on a client's upcoming bookings looks up ``lower(email)``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_bookings_lower_email", "bookings", [sa.text("lower(email)"), "start_at"])
    columns = ["status", "blocked_end", "blocked_start", "start_at"]
    op.create_index("ix_bookings_status_blocked_end", "bookings", columns)
    op.create_index("ix_calendar_events_end", "calendar_events", ["end_at", "start_at"])


def downgrade():
    op.drop_index("ix_calendar_events_end", table_name="calendar_events")
    op.drop_index("ix_bookings_status_blocked_end", table_name="bookings")
    op.drop_index("ix_bookings_lower_email", table_name="bookings")
