"""The chat list index covers the whole ORDER BY (updated_at DESC, id DESC): the first page
of a user with 10,000 chats reads 60 index entries instead of sorting all 10,000.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat") as batch:
        batch.drop_index("ix_chat_user_list")
        batch.create_index("ix_chat_user_list", ["user_id", "archived", "updated_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("chat") as batch:
        batch.drop_index("ix_chat_user_list")
        batch.create_index("ix_chat_user_list", ["user_id", "archived", "updated_at"])
