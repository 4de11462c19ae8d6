"""On PostgreSQL, every insert into the outbox wakes the jobs runner (NOTIFY at its commit), in no extra statement.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The channel the jobs runner LISTENs on (widget.wakeup.CHANNEL).
CHANNEL = "widget_outbox"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # elsewhere the runner is woken through Redis, or polls
    op.execute(
        "CREATE FUNCTION widget_outbox_wake() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    # Once per statement: a unit of work inserts its rows in one INSERT, and PostgreSQL sends a
    # notification once per transaction however often it is raised.
    op.execute(
        "CREATE TRIGGER outbox_wakes_the_runner AFTER INSERT ON outbox"
        " FOR EACH STATEMENT EXECUTE FUNCTION widget_outbox_wake()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_wakes_the_runner ON outbox")
    op.execute("DROP FUNCTION widget_outbox_wake()")
