"""The scopes Google granted to the calendar connection.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    # Left empty on an existing connection: it was made with the full calendar scope, the only one asked before.
    op.add_column("google_connection", sa.Column("scopes", sa.Text(), nullable=True))


def downgrade():
    op.execute("ALTER TABLE google_connection DROP COLUMN scopes")
