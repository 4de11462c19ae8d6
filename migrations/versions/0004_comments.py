"""Comments under the studio's articles.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from widget.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("page", sa.String(2048), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("comments.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reply_to_id", sa.Integer(), sa.ForeignKey("comments.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("website", sa.String(500), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("text_key", sa.String(64), nullable=False),
        sa.Column("notify_replies", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("source", sa.String(300), nullable=True, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("edited_at", UTCDateTime(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'published', 'spam')", name="ck_comments_status"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_comments_page_status", "comments", ["page", "status", "created_at"])
    op.create_index("ix_comments_email", "comments", ["email"])
    op.create_index("ix_comments_status_created", "comments", ["status", "created_at"])
    op.create_index("ix_comments_text_key", "comments", ["text_key", "created_at"])


def downgrade():
    op.drop_table("comments")
