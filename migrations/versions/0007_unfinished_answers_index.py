"""A partial index of the answers still being written: the team service looks for those a
crashed replica left every ``stale_after`` seconds, which must not scan every message.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("done = false AND role = 'assistant'")


def upgrade() -> None:
    op.create_index(
        "ix_chat_message_unfinished",
        "chat_message",
        ["chat_id"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_chat_message_unfinished", table_name="chat_message")
