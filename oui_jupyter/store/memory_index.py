"""The in-memory side of the retrieval index: what search reads, never touching disk.

One *position* per chunk (dead positions are compacted away now and then): texts,
metadata JSON, storage ids and text hashes as lists; source/file-type/collection ids as
numpy arrays for filter masks; a float32 matrix of normalised vectors with a ``has_vec``
mask; and a :class:`KeywordIndex` (BM25) over the same positions.

numpy is imported on first use (startup cost). Every method takes ``_lock`` (writers swap
in new arrays; readers copy references under it); :meth:`reading` hands it out so a
search can turn positions into results before anything renumbers them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .index_types import SearchFilter
from .keyword_index import KeywordIndex

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    Ranked = tuple[NDArray[np.int64], NDArray[np.float32]]

#: compaction runs once this many positions are dead and they are a third of all
_COMPACT_MIN_DEAD = 1000


@dataclass
class Rows:
    """Chunks to add, column by column (``ids``: the storage's chunk ids)."""

    ids: list[int] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    file_types: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    metas: list[str] = field(default_factory=list)  # JSON

    def __len__(self) -> int:
        return len(self.ids)


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


def _lut_mask(column: NDArray[Any], ids: Sequence[int], size: int) -> NDArray[np.bool_]:
    """``column[i] in ids`` for every row, via a lookup table (one gather, no sort)."""
    import numpy as np

    lut = np.zeros(size + 1, bool)
    if ids:
        lut[np.asarray(ids, np.int64)] = True
    return lut[column]


def _vectors(blobs: Sequence[bytes]) -> NDArray[np.float32]:
    """float32 vector bytes (one per row) -> a matrix."""
    import numpy as np

    return np.frombuffer(b"".join(blobs), np.float32).reshape(len(blobs), -1)


class MemoryIndex:
    """Positions -> chunk text, metadata, filter columns, vector and BM25 postings."""

    _src: NDArray[np.int32]
    _ftype: NDArray[np.int16]
    _coll: NDArray[np.int16]
    _alive: NDArray[np.bool_]
    _has_vec: NDArray[np.bool_]

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # the arrays are made by clear(): numpy stays unimported until the index opens
        self._n = 0
        self._vecs: NDArray[np.float32] | None = None
        self._dim = 0

    def clear(self) -> None:
        """Forget everything (and make the arrays)."""
        import numpy as np

        with self._lock:
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
            self._glob_cache: dict[str, tuple[re.Pattern[str], int, list[int]]] = {}
            self._dead = 0

    @property
    def positions(self) -> int:
        """Positions in use, dead ones included until the next compaction."""
        return self._n

    # -- writing ----------------------------------------------------------------------
    def load(self, rows: Rows, vectors: Sequence[tuple[int, bytes]]) -> None:
        """Start over from ``rows`` and the vectors of some of them, ``(id, bytes)``."""
        with self._lock:
            self.clear()
            if rows.ids:
                self._append(rows)
            self._put_by_id(vectors)

    def replace_files(
        self, files: Iterable[tuple[str, str]], rows: Rows, cached: dict[str, bytes]
    ) -> int:
        """Drop the chunks of ``files`` (``(collection, source)``), add ``rows``, and give
        those whose text hash is in ``cached`` its vector. Returns how many have none."""
        import numpy as np

        with self._lock:
            for collection, source in files:
                key = (self._colls.get(collection), self._sources.get(source))
                self._kill(self._by_file.pop(key, []))
            positions = self._append(rows) if rows.ids else []
            hit = [
                (p, cached[h]) for p, h in zip(positions, rows.hashes, strict=False) if h in cached
            ]
            if hit:
                self._put_vectors(
                    np.array([p for p, _ in hit], np.int64), _vectors([v for _, v in hit])
                )
            self._maybe_compact()
            return len(positions) - len(hit)

    def remove_files(self, collection: str, sources: Iterable[str]) -> None:
        with self._lock:
            cid = self._colls.ids.get(collection)
            if cid is not None:
                for s in sources:
                    sid = self._sources.ids.get(s)
                    if sid is not None:
                        self._kill(self._by_file.pop((cid, sid), []))
            self._maybe_compact()

    def remove_collection(self, collection: str) -> None:
        with self._lock:
            cid = self._colls.ids.get(collection)
            if cid is not None:
                for key in [k for k in self._by_file if k[0] == cid]:
                    self._kill(self._by_file.pop(key))
            self._maybe_compact()

    # -- vectors ----------------------------------------------------------------------------
    def drop_vectors(self) -> None:
        """Every chunk becomes pending (another embedding model)."""
        with self._lock:
            self._has_vec[:] = False

    def put_vectors_by_id(self, vectors: Sequence[tuple[int, bytes]]) -> None:
        """Vectors of live chunks by storage id, ``(id, float32 bytes)``."""
        with self._lock:
            self._put_by_id(vectors)

    def put_vectors_matching(self, items: Sequence[tuple[int, str]], vecs: NDArray[Any]) -> None:
        """Vectors for ``items`` = ``(position, text_hash)`` handed out by :meth:`pending`;
        positions compacted or replaced meanwhile (their hash differs) are skipped."""
        import numpy as np

        with self._lock:
            keep = [
                (p, i)
                for i, (p, h) in enumerate(items)
                if p < self._n and self._alive[p] and self._hashes[p] == h
            ]
            if keep:
                self._put_vectors(
                    np.array([p for p, _ in keep], np.int64), vecs[[i for _, i in keep]]
                )

    def collections_of(self, items: Sequence[tuple[int, str]]) -> set[str]:
        """The collections of ``items`` = ``(position, text_hash)`` still where they were."""
        with self._lock:
            return {
                self._colls.names[int(self._coll[p])]
                for p, h in items
                if p < self._n and self._alive[p] and self._hashes[p] == h
            }

    def pending(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` chunks without a vector: ``(position, text_hash, text)``."""
        import numpy as np

        with self._lock:
            todo = np.flatnonzero(self._alive[: self._n] & ~self._has_vec[: self._n])[:limit]
            return [(int(p), self._hashes[p], self._texts[p]) for p in todo]

    def has_vectors(self) -> bool:
        with self._lock:
            return self._vecs is not None and bool(self._has_vec[: self._n].any())

    # -- search -----------------------------------------------------------------------------
    def reading(self) -> threading.RLock:
        return self._lock

    def sources(self, collection: str) -> list[str]:
        with self._lock:
            cid = self._colls.ids.get(collection)
            return sorted(self._sources.names[s] for c, s in self._by_file if c == cid)

    def mask(self, flt: SearchFilter | None) -> NDArray[np.bool_]:
        """Bool array over positions: alive and matching ``flt``."""
        with self._lock:
            n = self._n
            m = self._alive[:n].copy()
            if flt is None:
                return m
            if flt.collections is not None or flt.sources is not None:
                cids = [self._colls.ids[c] for c in flt.collections or [] if c in self._colls.ids]
                sel = _lut_mask(self._coll[:n], cids, len(self._colls.names))
                if flt.sources:
                    scid = self._colls.ids.get(flt.sources_collection)
                    for s in flt.sources:
                        sid = self._sources.ids.get(s)
                        if scid is not None and sid is not None:
                            sel[self._by_file.get((scid, sid), [])] = True
                m &= sel
            if flt.globs:
                ok = sorted({i for g in flt.globs for i in self._glob_ids(g)})
                m &= _lut_mask(self._src[:n], ok, len(self._sources.names))
            if flt.file_types:
                fids = [self._ftypes.ids[f] for f in flt.file_types if f in self._ftypes.ids]
                m &= _lut_mask(self._ftype[:n], fids, len(self._ftypes.names))
            return m

    def keyword_search(self, query: str, n: int, mask: NDArray[np.bool_] | None = None) -> Ranked:
        """``(positions, scores)`` best first, BM25."""
        result: Ranked = self._kw.search(query, n, mask=mask, n_rows=self._n)
        return result

    def term_weights(self, query: str) -> dict[str, float]:
        """The keyword index's idf of each term of ``query``."""
        return self._kw.term_weights(query)

    def vector_search(
        self, qvec: ArrayLike, n: int, mask: NDArray[np.bool_] | None = None
    ) -> Ranked:
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
        idx: NDArray[np.intp] | None
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

    def fetch(self, positions: Sequence[int]) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(self._texts[p], json.loads(self._metas[p])) for p in positions]

    # -- stats ------------------------------------------------------------------------------
    def stats(self, collection: str | None = None) -> dict[str, int]:
        """``files``, ``chunks``, ``embedded``, ``pending`` and the vectors' ``dim``."""
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
            "dim": self._dim,
        }

    def keyword_nbytes(self) -> int:
        """Resident size of the BM25 postings."""
        with self._lock:
            return int(self._kw.nbytes())

    def nbytes(self) -> int:
        """Rough resident size (vectors, masks, BM25, texts)."""
        with self._lock:
            arrays = sum(
                a.nbytes for a in (self._src, self._ftype, self._coll, self._alive, self._has_vec)
            )
            vecs = self._vecs.nbytes if self._vecs is not None else 0
            texts = sum(sys.getsizeof(t) for t in self._texts) + sum(
                sys.getsizeof(m) for m in self._metas
            )
            hashes = sum(sys.getsizeof(h) for h in self._hashes) + 8 * 4 * len(self._ids)
            return int(arrays + vecs + texts + hashes + self._kw.nbytes())

    # -- internals (hold self._lock) ----------------------------------------------------------
    def _grow(self, extra: int) -> None:
        import numpy as np

        need = self._n + extra
        cap = self._alive.shape[0]
        if need <= cap:
            return
        new_cap = max(need, 2 * cap, 1024)

        def grow(a: NDArray[Any], dtype: Any) -> NDArray[Any]:
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

    def _append(self, rows: Rows) -> list[int]:
        import numpy as np

        n_new = len(rows)
        self._grow(n_new)
        start = self._n
        positions = list(range(start, start + n_new))
        sl = slice(start, start + n_new)
        cid = [self._colls.get(c) for c in rows.collections]
        sid = [self._sources.get(s) for s in rows.sources]
        self._coll[sl] = np.asarray(cid, np.int16)
        self._src[sl] = np.asarray(sid, np.int32)
        self._ftype[sl] = np.asarray([self._ftypes.get(f or "") for f in rows.file_types], np.int16)
        self._alive[sl] = True
        self._has_vec[sl] = False
        self._ids.extend(rows.ids)
        self._texts.extend(rows.texts)
        self._hashes.extend(rows.hashes)
        self._metas.extend(rows.metas)
        for p, c, s in zip(positions, cid, sid, strict=False):
            self._by_file.setdefault((c, s), []).append(p)
        self._n += n_new
        step = 20_000
        for i in range(0, n_new, step):
            self._kw.add(positions[i : i + step], rows.texts[i : i + step])
        return positions

    def _put_by_id(self, vectors: Sequence[tuple[int, bytes]]) -> None:
        import numpy as np

        if not vectors:
            return
        pos_of = {i: p for p, i in enumerate(self._ids) if self._alive[p]}
        hit = [(pos_of[i], v) for i, v in vectors if i in pos_of]
        if hit:
            self._put_vectors(
                np.array([p for p, _ in hit], np.int64), _vectors([v for _, v in hit])
            )

    def _put_vectors(self, positions: NDArray[np.int64], vecs: NDArray[Any]) -> None:
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

        if self._dead < _COMPACT_MIN_DEAD or self._dead * 3 < self._n:
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
