"""Undo of agent turns: a notebook's bytes before a turn first changed it, and what the
turn left (``notebook_checkpoint``); deleted with its chat.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notebook_checkpoint",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("before", sa.LargeBinary(), nullable=False),
        sa.Column("after", sa.LargeBinary(), nullable=True),
        sa.Column("touched", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chat.id"],
            name=op.f("fk_notebook_checkpoint_chat_id_chat"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notebook_checkpoint")),
    )
    op.create_index(
        "ix_notebook_checkpoint_turn",
        "notebook_checkpoint",
        ["chat_id", "message_id", "path"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_notebook_checkpoint_turn", table_name="notebook_checkpoint")
    op.drop_table("notebook_checkpoint")
