"""Bookings keep the client's answers to the intake questions.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, never batch mode (it would drop the no-overlap triggers of 0001).
    op.add_column("bookings", sa.Column("answers", sa.JSON(), nullable=True))


def downgrade():
    # SQLite 3.35+ and PostgreSQL both drop a column in place, keeping the triggers.
    op.execute("ALTER TABLE bookings DROP COLUMN answers")
