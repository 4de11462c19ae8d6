"""What proves a repeat booking request, what caps a client's bookings, and ordered delivery.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, never batch mode (it would drop the no-overlap triggers of 0001).
    op.add_column("bookings", sa.Column("idempotency_key", sa.String(64), nullable=True))
    op.create_index("ix_bookings_idempotency_key", "bookings", ["idempotency_key"], unique=True)
    op.add_column("bookings", sa.Column("phone_key", sa.String(32), nullable=False, server_default=""))
    op.create_index("ix_bookings_phone_key_start", "bookings", ["phone_key", "start_at"])
    bookings = sa.table("bookings", sa.column("id", sa.String), sa.column("phone", sa.String), sa.column("phone_key"))
    connection = op.get_bind()
    for booking_id, phone in connection.execute(sa.select(bookings.c.id, bookings.c.phone)).all():
        key = re.sub(r"[^0-9]", "", phone or "")
        connection.execute(bookings.update().where(bookings.c.id == booking_id).values(phone_key=key))

    op.add_column("outbox", sa.Column("stream", sa.String(100), nullable=True))
    op.create_index("ix_outbox_stream", "outbox", ["stream", "status", "id"])


def downgrade():
    op.drop_index("ix_outbox_stream", "outbox")
    op.execute("ALTER TABLE outbox DROP COLUMN stream")
    op.drop_index("ix_bookings_phone_key_start", "bookings")
    op.execute("ALTER TABLE bookings DROP COLUMN phone_key")
    op.drop_index("ix_bookings_idempotency_key", "bookings")
    op.execute("ALTER TABLE bookings DROP COLUMN idempotency_key")
