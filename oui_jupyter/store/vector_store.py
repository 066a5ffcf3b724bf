"""The retrieval index: DuckDB on disk, hot numpy arrays + BM25 in memory.

``DuckDBVectorStore`` is the default value of the ``RetrievalService.store_class``
traitlet; another engine can replace it by implementing the public methods below.

On disk (one DuckDB file per workspace root):
  * ``files``      one row per indexed file/document: collection, source, size, mtime, sha256
  * ``chunks``     id, collection, source, ord, file_type, text, text_hash, meta (JSON)
  * ``embeddings`` (model, text_hash) -> float32 vector bytes: an embedding cache keyed by
                   chunk text, so a chunk whose text did not change is never re-embedded
                   (also across renames and edits elsewhere in the file)
  * ``meta``       key/value (the embedding model the vectors belong to, schema version)

In memory, one *position* per chunk (dead positions are compacted away now and then):
texts, metadata JSON, ids, text hashes as lists; source/file-type/collection ids as numpy
arrays for filter masks; a float32 matrix of normalised vectors with a ``has_vec`` mask;
and a :class:`KeywordIndex`. Search never touches DuckDB.

DuckDB and numpy are imported lazily (startup cost); a DuckDB connection is not
thread-safe, so every DuckDB call holds ``_db_lock``; the in-memory state is guarded by
``_lock`` (writers swap in new arrays; readers copy references under the lock).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .keyword_index import KeywordIndex

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


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class FileRecord:
    collection: str
    source: str
    size: int
    mtime: float
    sha256: str
    file_type: str
    n_chunks: int
    status: str = "indexed"
    error: str | None = None
    indexed_at: float = field(default_factory=time.time)


@dataclass
class ChunkIn:
    """A chunk to store: its text and metadata (``source``, lines/cell/page...)."""

    text: str
    meta: dict[str, Any]


@dataclass
class Hit:
    position: int
    text: str
    meta: dict[str, Any]
    score: float
    retrievers: list[str] = field(default_factory=list)


@dataclass
class SearchFilter:
    """Which chunks a search may return. ``None`` fields do not filter.

    ``collections``: collection names; ``sources``: exact sources allowed *in the
    collections named by* ``sources_collection`` (a knowledge collection's workspace
    files); ``globs``: fnmatch patterns on the source path; ``file_types``: e.g. ``["ipynb"]``.
    """

    collections: list[str] | None = None
    sources: list[str] | None = None
    sources_collection: str = "workspace"
    globs: list[str] | None = None
    file_types: list[str] | None = None


class _Interner:
    """str <-> small int, for filter columns."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def get(self, name: str) -> int:
        i = self.ids.get(name)
        if i is None:
            i = self.ids[name] = len(self.names)
            self.names.append(name)
        return i


class DuckDBVectorStore:
    """Chunks, metadata and embeddings in DuckDB; search from memory."""

    def __init__(self, path: str, *, embedding_model: str = "", read_only: bool = False) -> None:
        self.path = path
        self.embedding_model = embedding_model
        self._read_only = read_only
        self._db_lock = threading.RLock()
        self._lock = threading.RLock()
        self._con = None
        self._loaded = threading.Event()
        # The in-memory arrays (numpy) are made by open(): numpy stays unimported until then.
        self._n = 0
        self._vecs = None
        self._dim = 0

    # -- lifecycle ----------------------------------------------------------------
    def _reset_memory(self) -> None:
        import numpy as np

        self._n = 0
        self._ids: list[int] = []
        self._texts: list[str] = []
        self._metas: list[str] = []
        self._hashes: list[str] = []
        self._src = np.zeros(0, np.int32)
        self._ftype = np.zeros(0, np.int16)
        self._coll = np.zeros(0, np.int16)
        self._alive = np.zeros(0, bool)
        self._has_vec = np.zeros(0, bool)
        self._vecs = None  # float32 (capacity, dim)
        self._dim = 0
        self._sources = _Interner()
        self._ftypes = _Interner()
        self._colls = _Interner()
        # (collection id, source id) -> positions
        self._by_file: dict[tuple[int, int], list[int]] = {}
        self._kw = KeywordIndex()
        self._glob_cache: dict[str, tuple] = {}
        self._dead = 0
        self._next_id = 1

    def open(self) -> None:
        """Open (or create) the database and load everything into memory."""
        import duckdb

        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._con = duckdb.connect(self.path, read_only=self._read_only)
        with self._lock:
            self._reset_memory()
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
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def _load(self) -> None:
        import numpy as np

        with self._db_lock:
            cols = self._con.execute(
                "SELECT id, collection, source, file_type, text, text_hash, meta FROM chunks ORDER BY id"
            ).fetchnumpy()
            stored_model = self._meta_get("embedding_model")
            vec_rows = []
            if self.embedding_model:
                vec_rows = self._con.execute(
                    "SELECT c.id, e.vec FROM chunks c JOIN embeddings e "
                    "ON e.text_hash = c.text_hash AND e.model = ? ORDER BY c.id",
                    [self.embedding_model],
                ).fetchall()
            if self.embedding_model and stored_model != self.embedding_model:
                self._meta_set("embedding_model", self.embedding_model)
        with self._lock:
            self._reset_memory()
            ids = cols["id"].tolist()
            if ids:
                self._append_rows(
                    ids,
                    cols["collection"].tolist(),
                    cols["source"].tolist(),
                    cols["file_type"].tolist(),
                    cols["text"].tolist(),
                    cols["text_hash"].tolist(),
                    cols["meta"].tolist(),
                )
                self._next_id = max(ids) + 1
            if vec_rows:
                pos_of = {i: p for p, i in enumerate(ids)}
                positions = np.fromiter((pos_of[r[0]] for r in vec_rows), np.int64, len(vec_rows))
                vecs = np.frombuffer(b"".join(r[1] for r in vec_rows), dtype=np.float32)
                self._put_vectors(positions, vecs.reshape(len(vec_rows), -1))

    def _meta_get(self, key: str) -> str | None:
        rows = self._con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def _meta_set(self, key: str, value: str) -> None:
        self._con.execute("DELETE FROM meta WHERE key = ?", [key])
        self._con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])

    # -- memory helpers (hold self._lock) -------------------------------------------
    def _grow(self, extra: int) -> None:
        import numpy as np

        need = self._n + extra
        cap = self._alive.shape[0]
        if need <= cap:
            return
        new_cap = max(need, 2 * cap, 1024)

        def grow(a, dtype):
            b = np.zeros(new_cap, dtype)
            b[: a.shape[0]] = a
            return b

        self._src = grow(self._src, np.int32)
        self._ftype = grow(self._ftype, np.int16)
        self._coll = grow(self._coll, np.int16)
        self._alive = grow(self._alive, bool)
        self._has_vec = grow(self._has_vec, bool)
        if self._vecs is not None:
            v = np.zeros((new_cap, self._dim), np.float32)
            v[: self._n] = self._vecs[: self._n]
            self._vecs = v

    def _append_rows(self, ids, colls, sources, ftypes, texts, hashes, metas) -> list[int]:
        import numpy as np

        n_new = len(ids)
        self._grow(n_new)
        start = self._n
        positions = list(range(start, start + n_new))
        sl = slice(start, start + n_new)
        cid = [self._colls.get(c) for c in colls]
        sid = [self._sources.get(s) for s in sources]
        self._coll[sl] = np.asarray(cid, np.int16)
        self._src[sl] = np.asarray(sid, np.int32)
        self._ftype[sl] = np.asarray([self._ftypes.get(f or "") for f in ftypes], np.int16)
        self._alive[sl] = True
        self._has_vec[sl] = False
        self._ids.extend(ids)
        self._texts.extend(texts)
        self._hashes.extend(hashes)
        self._metas.extend(metas)
        for p, c, s in zip(positions, cid, sid, strict=False):
            self._by_file.setdefault((c, s), []).append(p)
        self._n += n_new
        step = 20_000
        for i in range(0, n_new, step):
            self._kw.add(positions[i : i + step], texts[i : i + step])
        return positions

    def _put_vectors(self, positions, vecs) -> None:
        import numpy as np

        if vecs.shape[0] == 0:
            return
        if self._vecs is None or self._dim != vecs.shape[1]:
            self._dim = int(vecs.shape[1])
            self._vecs = np.zeros((self._alive.shape[0], self._dim), np.float32)
            self._has_vec[:] = False
        self._vecs[positions] = vecs
        self._has_vec[positions] = True

    def _kill(self, positions: Iterable[int]) -> None:
        pos = list(positions)
        if pos:
            self._alive[pos] = False
            self._dead += len(pos)

    def _maybe_compact(self) -> None:
        """Drop dead positions when they are over a third of the arrays."""
        import numpy as np

        if self._dead < 1000 or self._dead * 3 < self._n:
            return
        alive = self._alive[: self._n].copy()
        keep = np.flatnonzero(alive)
        self._kw.compact(alive)
        self._ids = [self._ids[i] for i in keep]
        self._texts = [self._texts[i] for i in keep]
        self._metas = [self._metas[i] for i in keep]
        self._hashes = [self._hashes[i] for i in keep]
        n = keep.shape[0]
        for name in ("_src", "_ftype", "_coll", "_alive", "_has_vec"):
            arr = getattr(self, name)
            new = np.zeros_like(arr)
            new[:n] = arr[keep]
            setattr(self, name, new)
        if self._vecs is not None:
            v = np.zeros_like(self._vecs)
            v[:n] = self._vecs[keep]
            self._vecs = v
        self._n = n
        self._dead = 0
        self._by_file = {}
        for p in range(n):
            self._by_file.setdefault((int(self._coll[p]), int(self._src[p])), []).append(p)

    # -- files ----------------------------------------------------------------------
    def get_file(self, collection: str, source: str) -> FileRecord | None:
        with self._db_lock:
            rows = self._con.execute(
                "SELECT collection, source, size, mtime, sha256, file_type, n_chunks, status, "
                "error, indexed_at FROM files WHERE collection = ? AND source = ?",
                [collection, source],
            ).fetchall()
        return FileRecord(*rows[0]) if rows else None

    def list_files(self, collection: str) -> list[FileRecord]:
        with self._db_lock:
            rows = self._con.execute(
                "SELECT collection, source, size, mtime, sha256, file_type, n_chunks, status, "
                "error, indexed_at FROM files WHERE collection = ? ORDER BY source",
                [collection],
            ).fetchall()
        return [FileRecord(*r) for r in rows]

    def touch_file(self, rec: FileRecord) -> None:
        """Record a file's new size/mtime without touching its chunks (content unchanged)."""
        with self._db_lock:
            self._con.execute(
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

        rows_ids, rows_coll, rows_src, rows_ft, rows_text, rows_hash, rows_meta, rows_ord = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        with self._lock:
            next_id = self._next_id
            for rec, chunks in batch:
                if chunks is None:
                    continue
                for i, ch in enumerate(chunks):
                    rows_ids.append(next_id)
                    next_id += 1
                    rows_coll.append(rec.collection)
                    rows_src.append(rec.source)
                    rows_ft.append(rec.file_type)
                    rows_text.append(ch.text)
                    rows_hash.append(text_hash(ch.text))
                    rows_meta.append(json.dumps(ch.meta, separators=(",", ":")))
                    rows_ord.append(i)
            self._next_id = next_id
        cached: dict[str, bytes] = {}
        with self._db_lock:
            con = self._con
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
                replaced = [(r.collection, r.source) for r, c in batch if c is not None]
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
                if rows_ids:
                    con.register(
                        "_chunks_in",
                        {
                            "id": np.array(rows_ids, dtype=np.int64),
                            "collection": np.array(rows_coll, dtype=object),
                            "source": np.array(rows_src, dtype=object),
                            "ord": np.array(rows_ord, dtype=np.int32),
                            "file_type": np.array(rows_ft, dtype=object),
                            "text": np.array(rows_text, dtype=object),
                            "text_hash": np.array(rows_hash, dtype=object),
                            "meta": np.array(rows_meta, dtype=object),
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
        with self._lock:
            for rec, chunks in batch:
                if chunks is None:
                    continue
                key = (self._colls.get(rec.collection), self._sources.get(rec.source))
                self._kill(self._by_file.pop(key, []))
            positions = (
                self._append_rows(
                    rows_ids, rows_coll, rows_src, rows_ft, rows_text, rows_hash, rows_meta
                )
                if rows_ids
                else []
            )
            hit = [
                (p, cached[h]) for p, h in zip(positions, rows_hash, strict=False) if h in cached
            ]
            if hit:
                vecs = np.frombuffer(b"".join(v for _, v in hit), np.float32).reshape(len(hit), -1)
                self._put_vectors(np.array([p for p, _ in hit], np.int64), vecs)
            self._maybe_compact()
            return len(positions) - len(hit)

    def delete_files(self, collection: str, sources: Sequence[str]) -> int:
        """Forget files (and their chunks); returns how many were known."""
        import numpy as np

        if not sources:
            return 0
        with self._db_lock:
            self._con.register(
                "_gone",
                {
                    "source": np.array(list(sources), dtype=object),
                },
            )
            n = self._con.execute(
                "SELECT count(*) FROM files WHERE collection = ? AND source IN (SELECT source FROM _gone)",
                [collection],
            ).fetchall()[0][0]
            self._con.execute(
                "DELETE FROM files WHERE collection = ? AND source IN (SELECT source FROM _gone)",
                [collection],
            )
            self._con.execute(
                "DELETE FROM chunks WHERE collection = ? AND source IN (SELECT source FROM _gone)",
                [collection],
            )
            self._con.unregister("_gone")
        with self._lock:
            cid = self._colls.ids.get(collection)
            if cid is not None:
                for s in sources:
                    sid = self._sources.ids.get(s)
                    if sid is not None:
                        self._kill(self._by_file.pop((cid, sid), []))
            self._maybe_compact()
        return int(n)

    def delete_collection(self, collection: str) -> None:
        with self._db_lock:
            self._con.execute("DELETE FROM files WHERE collection = ?", [collection])
            self._con.execute("DELETE FROM chunks WHERE collection = ?", [collection])
        with self._lock:
            cid = self._colls.ids.get(collection)
            if cid is not None:
                for key in [k for k in self._by_file if k[0] == cid]:
                    self._kill(self._by_file.pop(key))
            self._maybe_compact()

    def rename_collections_once(
        self, marker: str, plan: Callable[[list[str]], dict[str, str]]
    ) -> dict[str, str]:
        """Rename collections (``plan``: every stored name -> {old: new}) once per ``marker``,
        which the index keeps; returns what was renamed (nothing on a read-only index)."""
        if self._read_only:
            return {}
        with self._db_lock:
            if self._meta_get(marker) is not None:
                return {}
            names = [
                row[0]
                for row in self._con.execute(
                    "SELECT collection FROM files UNION SELECT collection FROM chunks"
                ).fetchall()
            ]
            renames = plan(names)
            self._con.execute("BEGIN TRANSACTION")
            try:
                for old, new in renames.items():
                    for table in ("files", "chunks"):
                        self._con.execute(
                            f"UPDATE {table} SET collection = ? WHERE collection = ?", [new, old]
                        )
                self._meta_set(marker, "1")
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        if renames:
            self._load()
        return renames

    def sources(self, collection: str) -> list[str]:
        with self._lock:
            cid = self._colls.ids.get(collection)
            return sorted(self._sources.names[s] for c, s in self._by_file if c == cid)

    # -- embeddings -------------------------------------------------------------------
    def set_embedding_model(self, model: str) -> None:
        """Switch the model the vectors belong to: reload cached vectors of that model;
        everything else becomes pending."""
        if model == self.embedding_model:
            return
        self.embedding_model = model
        with self._lock:
            self._has_vec[:] = False
        with self._db_lock:
            self._meta_set("embedding_model", model)
            rows = self._con.execute(
                "SELECT c.id, e.vec FROM chunks c JOIN embeddings e "
                "ON e.text_hash = c.text_hash AND e.model = ?",
                [model],
            ).fetchall()
        import numpy as np

        with self._lock:
            pos_of = {i: p for p, i in enumerate(self._ids) if self._alive[p]}
            hit = [(pos_of[i], v) for i, v in rows if i in pos_of]
            if hit:
                vecs = np.frombuffer(b"".join(v for _, v in hit), np.float32).reshape(len(hit), -1)
                self._put_vectors(np.array([p for p, _ in hit], np.int64), vecs)

    def pending(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` chunks without a vector: ``(position, text_hash, text)``."""
        import numpy as np

        with self._lock:
            todo = np.flatnonzero(self._alive[: self._n] & ~self._has_vec[: self._n])[:limit]
            return [(int(p), self._hashes[p], self._texts[p]) for p in todo]

    def put_embeddings(self, model: str, items: Sequence[tuple[int, str]], vecs) -> None:
        """Store vectors for ``items`` = ``(position, text_hash)`` computed with ``model``."""
        import numpy as np

        if model != self.embedding_model or len(items) == 0:
            return
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        uniq: dict[str, bytes] = {}
        for (_, h), v in zip(items, vecs, strict=False):
            uniq.setdefault(h, v.tobytes())
        with self._db_lock:
            self._con.register(
                "_emb_in",
                {
                    "model": np.array([model] * len(uniq), dtype=object),
                    "text_hash": np.array(list(uniq), dtype=object),
                    "vec": np.array(list(uniq.values()), dtype=object),
                },
            )
            self._con.execute(
                "INSERT INTO embeddings SELECT * FROM _emb_in WHERE text_hash NOT IN "
                "(SELECT text_hash FROM embeddings WHERE model = ?)",
                [model],
            )
            self._con.unregister("_emb_in")
        with self._lock:
            # positions may have been compacted/killed meanwhile: match by hash
            keep = [
                (p, i)
                for i, (p, h) in enumerate(items)
                if p < self._n and self._alive[p] and self._hashes[p] == h
            ]
            if keep:
                self._put_vectors(
                    np.array([p for p, _ in keep], np.int64), vecs[[i for _, i in keep]]
                )

    def prune_embeddings(self) -> int:
        """Delete cached vectors of texts no chunk has any more."""
        with self._db_lock:
            before = self._con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
            self._con.execute(
                "DELETE FROM embeddings WHERE text_hash NOT IN (SELECT text_hash FROM chunks)"
            )
            after = self._con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
        return int(before - after)

    # -- search -----------------------------------------------------------------------
    def _glob_ids(self, pattern: str) -> list[int]:
        """Source ids matching a glob; checks only sources added since the last call."""
        rx, upto, ids = self._glob_cache.get(pattern) or (
            re.compile(fnmatch.translate(pattern)),
            0,
            [],
        )
        names = self._sources.names
        if upto < len(names):
            ids = ids + [i for i in range(upto, len(names)) if rx.match(names[i])]
            if len(self._glob_cache) > 256:
                self._glob_cache.clear()
            self._glob_cache[pattern] = (rx, len(names), ids)
        return ids

    @staticmethod
    def _lut_mask(column, ids, size: int):
        """``column[i] in ids`` for every row, via a lookup table (one gather, no sort)."""
        import numpy as np

        lut = np.zeros(size + 1, bool)
        if ids:
            lut[np.asarray(ids, np.int64)] = True
        return lut[column]

    def mask(self, flt: SearchFilter | None):
        """Bool array over positions: alive and matching ``flt``."""
        with self._lock:
            n = self._n
            m = self._alive[:n].copy()
            if flt is None:
                return m
            if flt.collections is not None or flt.sources is not None:
                cids = [self._colls.ids[c] for c in flt.collections or [] if c in self._colls.ids]
                sel = self._lut_mask(self._coll[:n], cids, len(self._colls.names))
                if flt.sources:
                    scid = self._colls.ids.get(flt.sources_collection)
                    for s in flt.sources:
                        sid = self._sources.ids.get(s)
                        if scid is not None and sid is not None:
                            sel[self._by_file.get((scid, sid), [])] = True
                m &= sel
            if flt.globs:
                ok = sorted({i for g in flt.globs for i in self._glob_ids(g)})
                m &= self._lut_mask(self._src[:n], ok, len(self._sources.names))
            if flt.file_types:
                fids = [self._ftypes.ids[f] for f in flt.file_types if f in self._ftypes.ids]
                m &= self._lut_mask(self._ftype[:n], fids, len(self._ftypes.names))
            return m

    def reading(self) -> threading.RLock:
        """Hold while turning positions into results: no compaction can renumber them."""
        return self._lock

    def has_vectors(self) -> bool:
        with self._lock:
            return self._vecs is not None and bool(self._has_vec[: self._n].any())

    def keyword_search(self, query: str, n: int, mask=None):
        """``(positions, scores)`` best first, BM25."""
        return self._kw.search(query, n, mask=mask, n_rows=self._n)

    def vector_search(self, qvec, n: int, mask=None):
        """``(positions, cosine scores)`` best first over chunks that have a vector."""
        import numpy as np

        empty = (np.empty(0, np.int64), np.empty(0, np.float32))
        with self._lock:
            vecs, size = self._vecs, self._n
            ok = self._has_vec[:size]
        if vecs is None or size == 0:
            return empty
        q = np.asarray(qvec, np.float32).reshape(-1)
        if q.shape[0] != vecs.shape[1]:
            return empty
        m = ok if mask is None else (ok & mask[:size])
        n_ok = int(np.count_nonzero(m)) if mask is not None or not ok.all() else size
        if n_ok == 0:
            return empty
        if n_ok < size // 16:  # very selective: gather those rows; else scan all and mask
            idx = np.flatnonzero(m)
            scores = vecs[idx] @ q
        else:
            idx = None
            scores = vecs[:size] @ q
            if n_ok < size:
                scores[~m] = -np.inf
        k = min(n, n_ok)
        part = (
            np.argpartition(-scores, k - 1)[:k]
            if scores.shape[0] > k
            else np.arange(scores.shape[0])
        )
        part = part[np.argsort(-scores[part], kind="stable")]
        pos = part if idx is None else idx[part]
        return pos.astype(np.int64), scores[part]

    def fetch(self, positions: Sequence[int]) -> list[tuple[str, dict]]:
        with self._lock:
            return [(self._texts[p], json.loads(self._metas[p])) for p in positions]

    # -- stats ------------------------------------------------------------------------
    def stats(self, collection: str | None = None) -> dict:
        import numpy as np

        with self._lock:
            n = self._n
            alive = self._alive[:n]
            if collection is not None:
                cid = self._colls.ids.get(collection, -1)
                alive = alive & (self._coll[:n] == cid)
            chunks = int(np.count_nonzero(alive))
            embedded = int(np.count_nonzero(alive & self._has_vec[:n]))
            files = len(
                {
                    s
                    for c, s in self._by_file
                    if collection is None or self._colls.names[c] == collection
                }
            )
        return {
            "files": files,
            "chunks": chunks,
            "embedded": embedded,
            "pending": chunks - embedded,
            "model": self.embedding_model,
            "dim": self._dim,
        }

    def nbytes(self) -> int:
        """Rough resident size of the in-memory index (vectors, masks, BM25, texts)."""
        import sys

        with self._lock:
            arrays = sum(
                a.nbytes for a in (self._src, self._ftype, self._coll, self._alive, self._has_vec)
            )
            vecs = self._vecs.nbytes if self._vecs is not None else 0
            texts = sum(sys.getsizeof(t) for t in self._texts) + sum(
                sys.getsizeof(m) for m in self._metas
            )
            hashes = sum(sys.getsizeof(h) for h in self._hashes) + 8 * 4 * len(self._ids)
            return arrays + vecs + texts + hashes + self._kw.nbytes()
