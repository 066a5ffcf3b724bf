"""The prompt library (Open WebUI's ``prompt``: ``/command`` slugs, access control) and
users' memories (Open WebUI's ``memory``: facts retrieved into the system prompt).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt",
        sa.Column("command", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("access_control", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_prompt_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("command", name=op.f("pk_prompt")),
    )
    op.create_index("ix_prompt_timestamp", "prompt", ["timestamp"])
    op.create_table(
        "memory",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_memory_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory")),
    )
    op.create_index("ix_memory_user_created", "memory", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_memory_user_created", table_name="memory")
    op.drop_table("memory")
    op.drop_index("ix_prompt_timestamp", table_name="prompt")
    op.drop_table("prompt")
