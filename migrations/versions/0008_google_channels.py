"""Google push channels: one or two per watched calendar (two while one is renewed).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "google_channels",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("calendar_id", sa.String(1024), nullable=False, index=True),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("google_channels")
