"""What the stored indexes share: search from a :class:`MemoryIndex`, and the rows a batch of
files becomes. :class:`~oui_jupyter.store.duckdb_store.DuckDBVectorStore` (one DuckDB file)
and :class:`~oui_jupyter.store.pg_index.PgVectorIndex` (the team database) build on it; they
differ in where the rows are kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .index_types import ChunkIn, FileRecord, SearchFilter, text_hash
from .memory_index import MemoryIndex, Rows

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    from .memory_index import Ranked


def chunk_rows(
    batch: Sequence[tuple[FileRecord, Sequence[ChunkIn] | None]], next_id: int
) -> tuple[Rows, list[int]]:
    """The chunks of ``batch`` as rows with ids from ``next_id`` on, and each one's ``ord``."""
    rows = Rows()
    ords: list[int] = []
    for rec, chunks in batch:
        for i, ch in enumerate(chunks or ()):
            rows.ids.append(next_id)
            next_id += 1
            rows.collections.append(rec.collection)
            rows.sources.append(rec.source)
            rows.file_types.append(rec.file_type)
            rows.texts.append(ch.text)
            rows.hashes.append(text_hash(ch.text))
            rows.metas.append(json.dumps(ch.meta, separators=(",", ":")))
            ords.append(i)
    return rows, ords


def new_chunk_count(batch: Sequence[tuple[FileRecord, Sequence[ChunkIn] | None]]) -> int:
    return sum(len(chunks) for _, chunks in batch if chunks is not None)


def replaced_files(
    batch: Sequence[tuple[FileRecord, Sequence[ChunkIn] | None]],
) -> list[tuple[str, str]]:
    """``(collection, source)`` of the files whose chunks ``batch`` replaces."""
    return [(r.collection, r.source) for r, c in batch if c is not None]


def unique_vectors(
    items: Sequence[tuple[int, str]], vecs: ArrayLike
) -> tuple[NDArray[np.float32], dict[str, bytes]]:
    """``vecs`` as a float32 matrix, and one vector's bytes per text hash of ``items``."""
    import numpy as np

    matrix = np.ascontiguousarray(vecs, dtype=np.float32)
    uniq: dict[str, bytes] = {}
    for (_, h), v in zip(items, matrix, strict=False):
        uniq.setdefault(h, v.tobytes())
    return matrix, uniq


class MemoryBacked:
    """The search half of a :class:`~oui_jupyter.store.vector_index.VectorIndex`, answered
    from ``self.memory``; subclasses load it in ``open`` and keep it in step with their rows."""

    path: str
    embedding_model: str

    def __init__(self) -> None:
        self._loaded = threading.Event()
        #: what search reads; benchmarks look at its size
        self.memory = MemoryIndex()

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def sources(self, collection: str) -> list[str]:
        return self.memory.sources(collection)

    def pending(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` chunks without a vector: ``(position, text_hash, text)``."""
        return self.memory.pending(limit)

    def has_vectors(self) -> bool:
        return self.memory.has_vectors()

    def reading(self) -> AbstractContextManager[Any]:
        """Hold while turning positions into results: no compaction can renumber them."""
        return self.memory.reading()

    def mask(self, flt: SearchFilter | None) -> NDArray[np.bool_]:
        return self.memory.mask(flt)

    def keyword_search(self, query: str, n: int, mask: NDArray[np.bool_] | None = None) -> Ranked:
        return self.memory.keyword_search(query, n, mask)

    def vector_search(
        self, qvec: ArrayLike, n: int, mask: NDArray[np.bool_] | None = None
    ) -> Ranked:
        return self.memory.vector_search(qvec, n, mask)

    def term_weights(self, query: str) -> dict[str, float]:
        """The idf of each query term (the relevance bar weighs keyword evidence by it)."""
        return self.memory.term_weights(query)

    def fetch(self, positions: Sequence[int]) -> list[tuple[str, dict[str, Any]]]:
        return self.memory.fetch(positions)

    def stats(self, collection: str | None = None) -> dict[str, Any]:
        st = self.memory.stats(collection)
        return {
            "files": st["files"],
            "chunks": st["chunks"],
            "embedded": st["embedded"],
            "pending": st["pending"],
            "model": self.embedding_model,
            "dim": st["dim"],
        }

    def nbytes(self) -> int:
        """Rough resident size of the in-memory index (vectors, masks, BM25, texts)."""
        return self.memory.nbytes()
