"""The retrieval index's public names in one place.

``oui_jupyter.store.vector_store.DuckDBVectorStore`` is the documented default of the
``retrieval_store_class`` traitlet; the code lives in :mod:`.duckdb_store` (storage),
:mod:`.memory_index` (what search reads), :mod:`.index_types` and :mod:`.vector_index`.
"""

from __future__ import annotations

from .duckdb_store import SCHEMA_VERSION, DuckDBVectorStore
from .index_types import ChunkIn, FileRecord, Hit, SearchFilter, text_hash
from .vector_index import VectorIndex

__all__ = [
    "SCHEMA_VERSION",
    "ChunkIn",
    "DuckDBVectorStore",
    "FileRecord",
    "Hit",
    "SearchFilter",
    "VectorIndex",
    "text_hash",
]
