"""Teams: usage records (one row per completion turn) and shared-chat snapshots.

Chats shared before this revision have a ``share_id`` and no snapshot: readers of such a
link see the chat as it is (the service falls back to it) until its owner shares again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage")),
    )
    op.create_index("ix_usage_user_created", "usage", ["user_id", "created_at"])
    op.create_index("ix_usage_created", "usage", ["created_at"])
    op.create_table(
        "chat_share",
        sa.Column("share_id", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chat.id"], name=op.f("fk_chat_share_chat_id_chat"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("share_id", name=op.f("pk_chat_share")),
    )
    op.create_index("ix_chat_share_chat_id", "chat_share", ["chat_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_chat_share_chat_id", table_name="chat_share")
    op.drop_table("chat_share")
    op.drop_index("ix_usage_created", table_name="usage")
    op.drop_index("ix_usage_user_created", table_name="usage")
    op.drop_table("usage")
