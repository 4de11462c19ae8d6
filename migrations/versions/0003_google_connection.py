"""The Google Calendar connection and OAuth consents in progress.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "google_connection",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("busy_calendars", sa.Text(), nullable=False),
        sa.Column("booking_calendar", sa.String(1024), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("calendar_errors", sa.Text(), nullable=False),
        sa.Column("connected_at", UTCDateTime(), nullable=True),
        sa.Column("disconnected_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_google_connection_single"),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.String(128), primary_key=True),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("oauth_states")
    op.drop_table("google_connection")
