"""The default :class:`~oui_jupyter.store.vector_index.VectorIndex`: DuckDB on disk, a
:class:`~oui_jupyter.store.memory_index.MemoryIndex` (numpy vectors + BM25) for search.

On disk (one DuckDB file per workspace root):
  * ``files``      one row per indexed file/document: collection, source, size, mtime, sha256
  * ``chunks``     id, collection, source, ord, file_type, text, text_hash, meta (JSON)
  * ``embeddings`` (model, text_hash) -> float32 vector bytes: an embedding cache keyed by
                   chunk text, so a chunk whose text did not change is never re-embedded
                   (also across renames and edits elsewhere in the file)
  * ``meta``       key/value (the embedding model the vectors belong to, schema version)

Everything is loaded into memory by :meth:`DuckDBVectorStore.open`; search never touches
DuckDB. DuckDB and numpy are imported lazily (startup cost); a DuckDB connection is not
thread-safe, so every DuckDB call holds ``_db_lock``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .index_types import ChunkIn, FileRecord
from .memory_backed import (
    MemoryBacked,
    chunk_rows,
    new_chunk_count,
    replaced_files,
    unique_vectors,
)
from .memory_index import Rows

if TYPE_CHECKING:
    import duckdb
    from numpy.typing import ArrayLike

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT, value TEXT);
CREATE TABLE IF NOT EXISTS files(
    collection TEXT, source TEXT, size BIGINT, mtime DOUBLE, sha256 TEXT,
    file_type TEXT, n_chunks INTEGER, status TEXT, error TEXT, indexed_at DOUBLE);
CREATE TABLE IF NOT EXISTS chunks(
    id BIGINT, collection TEXT, source TEXT, ord INTEGER, file_type TEXT,
    text TEXT, text_hash TEXT, meta TEXT);
CREATE TABLE IF NOT EXISTS embeddings(model TEXT, text_hash TEXT, vec BLOB);
"""

_FILE_COLUMNS = (
    "collection, source, size, mtime, sha256, file_type, n_chunks, status, error, indexed_at"
)


class DuckDBVectorStore(MemoryBacked):
    """Chunks, metadata and embeddings in DuckDB; search from memory."""

    def __init__(self, path: str, *, embedding_model: str = "", read_only: bool = False) -> None:
        super().__init__()
        self.path = path
        self.embedding_model = embedding_model
        self._read_only = read_only
        self._db_lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._next_id = 1  # the next chunk id (guarded by _db_lock)

    # -- lifecycle ----------------------------------------------------------------
    def open(self) -> None:
        """Open (or create) the database and load everything into memory."""
        import duckdb

        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._con = duckdb.connect(self.path, read_only=self._read_only)
        self.memory.clear()
        with self._db_lock:
            self._con.execute(_SCHEMA)
            self._con.execute("DELETE FROM meta WHERE key = 'schema'")
            self._con.execute("INSERT INTO meta VALUES ('schema', ?)", [SCHEMA_VERSION])
        self._load()
        self._loaded.set()

    def close(self) -> None:
        with self._db_lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    @property
    def _db(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("the retrieval index is not open")
        return self._con

    def _load(self) -> None:
        with self._db_lock:
            con = self._db
            cols = con.execute(
                "SELECT id, collection, source, file_type, text, text_hash, meta FROM chunks ORDER BY id"
            ).fetchnumpy()
            stored_model = self._meta_get("embedding_model")
            vec_rows: list[tuple[int, bytes]] = []
            if self.embedding_model:
                vec_rows = [
                    (row[0], row[1])
                    for row in con.execute(
                        "SELECT c.id, e.vec FROM chunks c JOIN embeddings e "
                        "ON e.text_hash = c.text_hash AND e.model = ? ORDER BY c.id",
                        [self.embedding_model],
                    ).fetchall()
                ]
            if self.embedding_model and stored_model != self.embedding_model:
                self._meta_set("embedding_model", self.embedding_model)
            ids = cols["id"].tolist()
            if ids:
                self._next_id = max(ids) + 1
        rows = Rows(
            ids,
            cols["collection"].tolist(),
            cols["source"].tolist(),
            cols["file_type"].tolist(),
            cols["text"].tolist(),
            cols["text_hash"].tolist(),
            cols["meta"].tolist(),
        )
        self.memory.load(rows, vec_rows)

    def _meta_get(self, key: str) -> str | None:
        rows = self._db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def _meta_set(self, key: str, value: str) -> None:
        self._db.execute("DELETE FROM meta WHERE key = ?", [key])
        self._db.execute("INSERT INTO meta VALUES (?, ?)", [key, value])

    # -- files ----------------------------------------------------------------------
    def get_file(self, collection: str, source: str) -> FileRecord | None:
        with self._db_lock:
            rows = self._db.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE collection = ? AND source = ?",
                [collection, source],
            ).fetchall()
        return FileRecord(*rows[0]) if rows else None

    def list_files(self, collection: str) -> list[FileRecord]:
        with self._db_lock:
            rows = self._db.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE collection = ? ORDER BY source",
                [collection],
            ).fetchall()
        return [FileRecord(*r) for r in rows]

    def touch_file(self, rec: FileRecord) -> None:
        """Record a file's new size/mtime without touching its chunks (content unchanged)."""
        with self._db_lock:
            self._db.execute(
                "UPDATE files SET size = ?, mtime = ?, indexed_at = ? WHERE collection = ? AND source = ?",
                [rec.size, rec.mtime, time.time(), rec.collection, rec.source],
            )

    def write_files(self, batch: Sequence[tuple[FileRecord, Sequence[ChunkIn] | None]]) -> int:
        """Replace the chunks of each file in ``batch`` (``None`` chunks: record only).

        One DuckDB transaction for the whole batch; the new chunks are keyword-searchable
        when this returns; vectors come from the embedding cache where the same text was
        embedded before, the rest is left pending. Returns the number of pending chunks added.
        """
        import numpy as np

        n_new = new_chunk_count(batch)
        with self._db_lock:
            next_id = self._next_id
            self._next_id += n_new
        rows, ords = chunk_rows(batch, next_id)
        cached: dict[str, bytes] = {}
        with self._db_lock:
            con = self._db
            con.execute("BEGIN")
            try:
                for rec, _ in batch:
                    con.execute(
                        "DELETE FROM files WHERE collection = ? AND source = ?",
                        [rec.collection, rec.source],
                    )
                files = {
                    "collection": np.array([r.collection for r, _ in batch], dtype=object),
                    "source": np.array([r.source for r, _ in batch], dtype=object),
                    "size": np.array([r.size for r, _ in batch], dtype=np.int64),
                    "mtime": np.array([r.mtime for r, _ in batch], dtype=np.float64),
                    "sha256": np.array([r.sha256 for r, _ in batch], dtype=object),
                    "file_type": np.array([r.file_type for r, _ in batch], dtype=object),
                    "n_chunks": np.array([r.n_chunks for r, _ in batch], dtype=np.int32),
                    "status": np.array([r.status for r, _ in batch], dtype=object),
                    "error": np.array([r.error for r, _ in batch], dtype=object),
                    "indexed_at": np.array([r.indexed_at for r, _ in batch], dtype=np.float64),
                }
                con.register("_files_in", files)
                con.execute("INSERT INTO files SELECT * FROM _files_in")
                con.unregister("_files_in")
                replaced = replaced_files(batch)
                if replaced:
                    con.register(
                        "_gone",
                        {
                            "collection": np.array([c for c, _ in replaced], dtype=object),
                            "source": np.array([s for _, s in replaced], dtype=object),
                        },
                    )
                    con.execute(
                        "DELETE FROM chunks USING _gone WHERE chunks.collection = _gone.collection "
                        "AND chunks.source = _gone.source"
                    )
                    con.unregister("_gone")
                if rows.ids:
                    con.register(
                        "_chunks_in",
                        {
                            "id": np.array(rows.ids, dtype=np.int64),
                            "collection": np.array(rows.collections, dtype=object),
                            "source": np.array(rows.sources, dtype=object),
                            "ord": np.array(ords, dtype=np.int32),
                            "file_type": np.array(rows.file_types, dtype=object),
                            "text": np.array(rows.texts, dtype=object),
                            "text_hash": np.array(rows.hashes, dtype=object),
                            "meta": np.array(rows.metas, dtype=object),
                        },
                    )
                    con.execute("INSERT INTO chunks SELECT * FROM _chunks_in")
                    if self.embedding_model:
                        cached = dict(
                            con.execute(
                                "SELECT e.text_hash, e.vec FROM embeddings e JOIN "
                                "(SELECT DISTINCT text_hash FROM _chunks_in) c USING (text_hash) "
                                "WHERE e.model = ?",
                                [self.embedding_model],
                            ).fetchall()
                        )
                    con.unregister("_chunks_in")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return self.memory.replace_files(replaced_files(batch), rows, cached)

    def delete_files(self, collection: str, sources: Sequence[str]) -> int:
        """Forget files (and their chunks); returns how many were known."""
        import numpy as np

        if not sources:
            return 0
        with self._db_lock:
            con = self._db
            con.register("_gone", {"source": np.array(list(sources), dtype=object)})
            n = con.execute(
                "SELECT count(*) FROM files WHERE collection = ? AND source IN (SELECT source FROM _gone)",
                [collection],
            ).fetchall()[0][0]
            con.execute(
                "DELETE FROM files WHERE collection = ? AND source IN (SELECT source FROM _gone)",
                [collection],
            )
            con.execute(
                "DELETE FROM chunks WHERE collection = ? AND source IN (SELECT source FROM _gone)",
                [collection],
            )
            con.unregister("_gone")
        self.memory.remove_files(collection, sources)
        return int(n)

    def delete_collection(self, collection: str) -> None:
        with self._db_lock:
            self._db.execute("DELETE FROM files WHERE collection = ?", [collection])
            self._db.execute("DELETE FROM chunks WHERE collection = ?", [collection])
        self.memory.remove_collection(collection)

    def rename_collections_once(
        self, marker: str, plan: Callable[[list[str]], dict[str, str]]
    ) -> dict[str, str]:
        """Rename collections (``plan``: every stored name -> {old: new}) once per ``marker``,
        which the index keeps; returns what was renamed (nothing on a read-only index)."""
        if self._read_only:
            return {}
        with self._db_lock:
            con = self._db
            if self._meta_get(marker) is not None:
                return {}
            names = [
                row[0]
                for row in con.execute(
                    "SELECT collection FROM files UNION SELECT collection FROM chunks"
                ).fetchall()
            ]
            renames = plan(names)
            con.execute("BEGIN TRANSACTION")
            try:
                for old, new in renames.items():
                    for table in ("files", "chunks"):
                        con.execute(
                            f"UPDATE {table} SET collection = ? WHERE collection = ?", [new, old]
                        )
                self._meta_set(marker, "1")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        if renames:
            self._load()
        return renames

    # -- embeddings -------------------------------------------------------------------
    def set_embedding_model(self, model: str) -> None:
        """Switch the model the vectors belong to: reload cached vectors of that model;
        everything else becomes pending."""
        if model == self.embedding_model:
            return
        self.embedding_model = model
        self.memory.drop_vectors()
        with self._db_lock:
            self._meta_set("embedding_model", model)
            rows = self._db.execute(
                "SELECT c.id, e.vec FROM chunks c JOIN embeddings e "
                "ON e.text_hash = c.text_hash AND e.model = ?",
                [model],
            ).fetchall()
        self.memory.put_vectors_by_id([(r[0], r[1]) for r in rows])

    def put_embeddings(self, model: str, items: Sequence[tuple[int, str]], vecs: ArrayLike) -> None:
        """Store vectors for ``items`` = ``(position, text_hash)`` computed with ``model``."""
        import numpy as np

        if model != self.embedding_model or len(items) == 0:
            return
        matrix, uniq = unique_vectors(items, vecs)
        with self._db_lock:
            con = self._db
            con.register(
                "_emb_in",
                {
                    "model": np.array([model] * len(uniq), dtype=object),
                    "text_hash": np.array(list(uniq), dtype=object),
                    "vec": np.array(list(uniq.values()), dtype=object),
                },
            )
            con.execute(
                "INSERT INTO embeddings SELECT * FROM _emb_in WHERE text_hash NOT IN "
                "(SELECT text_hash FROM embeddings WHERE model = ?)",
                [model],
            )
            con.unregister("_emb_in")
        # positions may have been compacted/killed meanwhile: matched by hash
        self.memory.put_vectors_matching(items, matrix)
