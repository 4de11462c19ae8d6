"""The scopes Google granted to the calendar connection.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # Left empty on an existing connection: it was made with the full calendar scope, the only one asked before.
    op.add_column("google_connection", sa.Column("scopes", sa.Text(), nullable=True))


def downgrade():
    op.execute("ALTER TABLE google_connection DROP COLUMN scopes")
