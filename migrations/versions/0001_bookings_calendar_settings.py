"""Bookings, the local calendar and settings, with the no-overlap guarantee.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Two confirmed bookings whose blocked ranges (appointment plus buffers)
overlap must never both exist, whichever process inserts them:

* PostgreSQL: an exclusion constraint on the half-open range.
* SQLite: triggers that refuse the insert or update; SQLite runs one writer at
  a time and a writer always sees the latest commit, so the check and the
  write cannot be separated by another writer.
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OVERLAP = """
    EXISTS (
        SELECT 1 FROM bookings AS other
        WHERE other.status = 'confirmed'
          AND other.id != NEW.id
          AND other.blocked_start < NEW.blocked_end
          AND NEW.blocked_start < other.blocked_end
    )
"""


def upgrade():
    op.create_table(
        "bookings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("blocked_start", UTCDateTime(), nullable=False),
        sa.Column("blocked_end", UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("client_timezone", sa.String(64), nullable=False),
        sa.Column("calendar_event_id", sa.String(1024), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('confirmed', 'cancelled')", name="ck_bookings_status"),
        sa.CheckConstraint("start_at < end_at", name="ck_bookings_order"),
        sa.CheckConstraint("blocked_start <= start_at AND end_at <= blocked_end", name="ck_bookings_blocked_covers"),
    )
    op.create_index("ix_bookings_status_blocked", "bookings", ["status", "blocked_start", "blocked_end"])
    op.create_index("ix_bookings_email_start", "bookings", ["email", "start_at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist "
            "(tstzrange(blocked_start, blocked_end, '[)') WITH &&) WHERE (status = 'confirmed')"
        )
    else:
        op.execute(
            f"""
            CREATE TRIGGER bookings_no_overlap_insert BEFORE INSERT ON bookings
            WHEN NEW.status = 'confirmed' AND {OVERLAP}
            BEGIN SELECT RAISE(ABORT, 'bookings_no_overlap: the time overlaps a confirmed booking'); END
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER bookings_no_overlap_update
            BEFORE UPDATE OF status, blocked_start, blocked_end ON bookings
            WHEN NEW.status = 'confirmed' AND {OVERLAP}
            BEGIN SELECT RAISE(ABORT, 'bookings_no_overlap: the time overlaps a confirmed booking'); END
            """
        )

    op.create_table(
        "calendar_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("booking_id", sa.String(32), nullable=True, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("start_at < end_at", name="ck_calendar_events_order"),
    )
    op.create_index("ix_calendar_events_range", "calendar_events", ["start_at", "end_at"])

    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade():
    op.drop_table("settings")
    op.drop_index("ix_calendar_events_range", "calendar_events")
    op.drop_table("calendar_events")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bookings_no_overlap_update")
        op.execute("DROP TRIGGER IF EXISTS bookings_no_overlap_insert")
    op.drop_index("ix_bookings_email_start", "bookings")
    op.drop_index("ix_bookings_status_blocked", "bookings")
    op.drop_table("bookings")
