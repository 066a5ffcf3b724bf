"""Ratings of answers (Open WebUI's ``feedback`` table): thumbs, 1-10 rating, comment; the
leaderboard reads them in creation order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index("ix_feedback_user_updated", "feedback", ["user_id", "updated_at"])
    op.create_index("ix_feedback_message", "feedback", ["chat_id", "message_id"], unique=True)
    op.create_index("ix_feedback_created", "feedback", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_created", table_name="feedback")
    op.drop_index("ix_feedback_message", table_name="feedback")
    op.drop_index("ix_feedback_user_updated", table_name="feedback")
    op.drop_table("feedback")
