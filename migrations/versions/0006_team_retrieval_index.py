"""Teams: the retrieval index and the uploads' bytes in the database (the team service's
replicas keep no state of their own). Single-user servers keep using DuckDB and the data dir;
the tables exist there, empty.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rag_file",
        sa.Column("collection", sa.String(512), nullable=False),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.Float(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_type", sa.String(64), nullable=False),
        sa.Column("n_chunks", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("collection", "source", name=op.f("pk_rag_file")),
    )
    op.create_table(
        "rag_chunk",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("collection", sa.String(512), nullable=False),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("file_type", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rag_chunk")),
    )
    op.create_index("ix_rag_chunk_collection_source", "rag_chunk", ["collection", "source"])
    op.create_table(
        "rag_embedding",
        sa.Column("model", sa.String(512), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("vec", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_hash", name=op.f("pk_rag_embedding")),
    )
    op.create_table(
        "rag_meta",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rag_meta")),
    )
    op.create_table(
        "rag_collection",
        sa.Column("collection", sa.String(512), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("collection", name=op.f("pk_rag_collection")),
    )
    op.create_index("ix_rag_collection_generation", "rag_collection", ["generation"])
    op.create_table(
        "file_blob",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_blob")),
    )


def downgrade() -> None:
    op.drop_table("file_blob")
    op.drop_index("ix_rag_collection_generation", table_name="rag_collection")
    op.drop_table("rag_collection")
    op.drop_table("rag_meta")
    op.drop_table("rag_embedding")
    op.drop_index("ix_rag_chunk_collection_source", table_name="rag_chunk")
    op.drop_table("rag_chunk")
    op.drop_table("rag_file")
