"""The team service's :class:`~oui_jupyter.store.vector_index.VectorIndex`: the rows in the team
database, a :class:`~oui_jupyter.store.memory_index.MemoryIndex` for search (issue #16).

The tables (``oui_jupyter.store.orm``, migration 0006) hold what DuckDB's do in a single-user
server: ``rag_file`` (files), ``rag_chunk`` (chunks), ``rag_embedding`` ((model, text_hash) ->
float32 bytes: the embedding cache) and ``rag_meta`` (the embedding model, and two counters:
``generation`` and ``next_chunk_id``). Everything is loaded into memory by :meth:`open`.

Several replicas of the service share the rows. Every write bumps ``generation`` and stamps
the collections it touched with it in ``rag_collection``, in its own transaction (the counter's
row lock orders the writers, so generations commit in order). Before a search
(:meth:`reading`, :meth:`mask`, :meth:`sources`) the index reads the generation (one row); when
a replica other than this one wrote since, it reloads the collections stamped since. Its own
writes are applied to memory as they are made and not reloaded.

Written with SQLAlchemy Core for PostgreSQL and SQLite (the tests run it on both); slow
calls (everything but search) run off the event loop like the rest of the retrieval service.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from .db import Database, table_of
from .index_types import ChunkIn, FileRecord, SearchFilter
from .memory_backed import (
    MemoryBacked,
    chunk_rows,
    new_chunk_count,
    replaced_files,
    unique_vectors,
)
from .memory_index import Rows
from .orm import RagChunk, RagCollection, RagEmbedding, RagFile, RagMeta

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

log = logging.getLogger(__name__)

FILES = table_of(RagFile)
CHUNKS = table_of(RagChunk)
EMBEDDINGS = table_of(RagEmbedding)
META = table_of(RagMeta)
COLLECTIONS = table_of(RagCollection)

GENERATION = "generation"
NEXT_ID = "next_chunk_id"
#: values in one ``IN (...)`` (PostgreSQL takes at most 65535 parameters a statement)
_IN_BATCH = 1000
_FILE_FIELDS = [f.name for f in dataclasses.fields(FileRecord)]


def _batches(values: Iterable[str]) -> Iterator[list[str]]:
    items = list(values)
    for i in range(0, len(items), _IN_BATCH):
        yield items[i : i + _IN_BATCH]


def _dialect_insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, leaving those whose key is there already."""
    if rows:
        conn.execute(_dialect_insert(conn, table).on_conflict_do_nothing(), rows)


def _upsert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str], columns: list[str]
) -> None:
    if rows:
        stmt = _dialect_insert(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
        )
        conn.execute(stmt, rows)


class PgVectorIndex(MemoryBacked):
    """Chunks, metadata and embeddings in the team database; search from memory."""

    def __init__(self, path: str = "", *, embedding_model: str = "", db: Database) -> None:
        """``path``: unused: the index is in ``db`` (``self.path`` names its tables only, not
        the database's address, which users of the team service must not learn)."""
        super().__init__()
        self.db = db
        self.path = f"{db.dialect}:{CHUNKS.name}"
        self.embedding_model = embedding_model
        #: writes and reloads, one at a time: memory follows the database's order
        self._sync = threading.RLock()
        self._seen = 0  # the generation memory holds (guarded by _sync)
        self._own: set[int] = set()  # generations of this index's writes, not seen yet
        self._inside = threading.local()  # depth of reading() in this thread
        #: collections reloaded because another replica changed them (tests look)
        self.reloads = 0

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        """Create the counters if missing, and load everything into memory."""
        with self._sync:
            with self.db.engine.begin() as conn:
                _insert_ignore(
                    conn,
                    META,
                    [
                        {"key": GENERATION, "value": None, "number": 0},
                        {"key": NEXT_ID, "value": None, "number": 1},
                    ],
                )
                if self.embedding_model:
                    self._meta_set(conn, "embedding_model", self.embedding_model)
            with self.db.engine.connect() as conn:
                # the generation first: whatever commits after it is reloaded later
                self._seen = self._generation(conn)
                rows, cached = self._fetch(conn, None)
            self.memory.clear()
            self.memory.replace_files([], rows, cached)
            self._own.clear()
        self._loaded.set()

    def close(self) -> None:
        """Nothing to close: the database is the app's."""

    # -- freshness ----------------------------------------------------------------------
    def refresh(self) -> bool:
        """Catch up with what other replicas wrote since; True if anything was reloaded.

        One ``SELECT`` of one row when nothing changed elsewhere. A database that does not
        answer leaves memory as it is (search answers from it) and is logged."""
        if not self.loaded:
            return False
        with self._sync:
            try:
                with self.db.engine.connect() as conn:
                    current = self._generation(conn)
                    if current <= self._seen:
                        return False
                    mine = sum(1 for g in self._own if self._seen < g <= current)
                    changed: list[str] = []
                    if mine < current - self._seen:  # another replica wrote
                        changed = list(
                            conn.execute(
                                select(COLLECTIONS.c.collection).where(
                                    COLLECTIONS.c.generation > self._seen
                                )
                            ).scalars()
                        )
                        rows, cached = self._fetch(conn, changed)
            except SQLAlchemyError as e:
                log.warning("oui: the retrieval index could not be refreshed: %s", e)
                return False
            if changed:
                with self.memory.reading():  # searches see the old or the new, never half
                    for collection in changed:
                        self.memory.remove_collection(collection)
                    self.memory.replace_files([], rows, cached)
                self.reloads += len(changed)
            self._seen = current
            self._own = {g for g in self._own if g > current}
            return bool(changed)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Up to date with the database, then held while positions are turned into results."""
        self.refresh()
        with self.memory.reading():
            depth = getattr(self._inside, "depth", 0)
            self._inside.depth = depth + 1
            try:
                yield
            finally:
                self._inside.depth = depth

    def _refresh_outside_reading(self) -> None:
        # inside reading() positions are handed out already: nothing may renumber them
        if not getattr(self._inside, "depth", 0):
            self.refresh()

    def mask(self, flt: SearchFilter | None) -> NDArray[np.bool_]:
        self._refresh_outside_reading()
        return self.memory.mask(flt)

    def sources(self, collection: str) -> list[str]:
        self._refresh_outside_reading()
        return self.memory.sources(collection)

    # -- database helpers ---------------------------------------------------------------
    @staticmethod
    def _generation(conn: Connection) -> int:
        value = conn.execute(select(META.c.number).where(META.c.key == GENERATION)).scalar()
        return int(value or 0)

    @staticmethod
    def _count_up(conn: Connection, key: str, by: int) -> int:
        """Add ``by`` to counter ``key`` (its row stays locked until commit); the new value."""
        return int(
            conn.execute(
                update(META)
                .where(META.c.key == key)
                .values(number=META.c.number + by)
                .returning(META.c.number)
            ).scalar_one()
        )

    def _stamp(self, conn: Connection, collections: Iterable[str]) -> int:
        """A new generation for a write to ``collections``."""
        generation = self._count_up(conn, GENERATION, 1)
        _upsert(
            conn,
            COLLECTIONS,
            [{"collection": c, "generation": generation} for c in sorted(set(collections))],
            ["collection"],
            ["generation"],
        )
        return generation

    @staticmethod
    def _meta_set(conn: Connection, key: str, value: str) -> None:
        _upsert(conn, META, [{"key": key, "value": value, "number": None}], ["key"], ["value"])

    def _fetch(
        self, conn: Connection, collections: Sequence[str] | None
    ) -> tuple[Rows, dict[str, bytes]]:
        """The chunks of ``collections`` (``None``: all), and the vectors of their texts."""
        c, e = CHUNKS.c, EMBEDDINGS.c
        base = (
            select(c.id, c.collection, c.source, c.file_type, c.text, c.text_hash, c.meta, e.vec)
            .select_from(
                CHUNKS.outerjoin(
                    EMBEDDINGS, and_(e.text_hash == c.text_hash, e.model == self.embedding_model)
                )
            )
            .order_by(c.id)
        )
        queries = (
            [base]
            if collections is None
            else [base.where(c.collection.in_(part)) for part in _batches(collections)]
        )
        rows = Rows()
        cached: dict[str, bytes] = {}
        for query in queries:
            for r in conn.execute(query):
                rows.ids.append(r[0])
                rows.collections.append(r[1])
                rows.sources.append(r[2])
                rows.file_types.append(r[3])
                rows.texts.append(r[4])
                rows.hashes.append(r[5])
                rows.metas.append(r[6])
                if r[7] is not None:
                    cached[r[5]] = bytes(r[7])
        return rows, cached

    def _cached(self, conn: Connection, hashes: Iterable[str]) -> dict[str, bytes]:
        """Vectors of the current model stored for these text hashes."""
        out: dict[str, bytes] = {}
        if not self.embedding_model:
            return out
        for part in _batches(set(hashes)):
            query = select(EMBEDDINGS.c.text_hash, EMBEDDINGS.c.vec).where(
                EMBEDDINGS.c.model == self.embedding_model, EMBEDDINGS.c.text_hash.in_(part)
            )
            out.update((h, bytes(v)) for h, v in conn.execute(query))
        return out

    # -- files ----------------------------------------------------------------------------
    def get_file(self, collection: str, source: str) -> FileRecord | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(*(FILES.c[f] for f in _FILE_FIELDS)).where(
                    FILES.c.collection == collection, FILES.c.source == source
                )
            ).first()
        return FileRecord(*row) if row else None

    def list_files(self, collection: str) -> list[FileRecord]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(*(FILES.c[f] for f in _FILE_FIELDS))
                .where(FILES.c.collection == collection)
                .order_by(FILES.c.source)
            ).all()
        return [FileRecord(*r) for r in rows]

    def touch_file(self, rec: FileRecord) -> None:
        """Record a file's new size/mtime without touching its chunks (content unchanged)."""
        with self.db.engine.begin() as conn:
            conn.execute(
                update(FILES)
                .where(FILES.c.collection == rec.collection, FILES.c.source == rec.source)
                .values(size=rec.size, mtime=rec.mtime, indexed_at=time.time())
            )

    def write_files(self, batch: Sequence[tuple[FileRecord, Sequence[ChunkIn] | None]]) -> int:
        """Replace the chunks of each file in ``batch`` (``None`` chunks: record only), in
        one transaction; vectors come from the embedding cache where the same text was
        embedded before. Returns the number of pending chunks added."""
        if not batch:
            return 0
        n_new = new_chunk_count(batch)
        replaced = replaced_files(batch)
        # one row per file: the last of the batch wins, as it would in DuckDB
        files = {(r.collection, r.source): dataclasses.asdict(r) for r, _ in batch}
        by_file = (FILES.c.collection == bindparam("c")) & (FILES.c.source == bindparam("s"))
        by_chunk_file = (CHUNKS.c.collection == bindparam("c")) & (
            CHUNKS.c.source == bindparam("s")
        )
        with self._sync:
            with self.db.engine.begin() as conn:
                generation = self._stamp(conn, (c for c, _ in files))
                first_id = self._count_up(conn, NEXT_ID, n_new) - n_new if n_new else 0
                rows, ords = chunk_rows(batch, first_id)
                keys = [{"c": c, "s": s} for c, s in files]
                conn.execute(delete(FILES).where(by_file), keys)
                conn.execute(insert(FILES), list(files.values()))
                if replaced:
                    conn.execute(
                        delete(CHUNKS).where(by_chunk_file), [{"c": c, "s": s} for c, s in replaced]
                    )
                cached: dict[str, bytes] = {}
                if rows.ids:
                    conn.execute(
                        insert(CHUNKS),
                        [
                            {
                                "id": rows.ids[i],
                                "collection": rows.collections[i],
                                "source": rows.sources[i],
                                "ord": ords[i],
                                "file_type": rows.file_types[i],
                                "text": rows.texts[i],
                                "text_hash": rows.hashes[i],
                                "meta": rows.metas[i],
                            }
                            for i in range(len(rows.ids))
                        ],
                    )
                    cached = self._cached(conn, rows.hashes)
            pending = self.memory.replace_files(replaced, rows, cached)
            self._own.add(generation)
        return pending

    def delete_files(self, collection: str, sources: Sequence[str]) -> int:
        """Forget files (and their chunks); returns how many were known."""
        if not sources:
            return 0
        known = 0
        with self._sync:
            with self.db.engine.begin() as conn:
                generation = self._stamp(conn, [collection])
                for part in _batches(sources):
                    known += int(
                        conn.execute(
                            select(func.count())
                            .select_from(FILES)
                            .where(FILES.c.collection == collection, FILES.c.source.in_(part))
                        ).scalar_one()
                    )
                    for table in (FILES, CHUNKS):
                        conn.execute(
                            delete(table).where(
                                table.c.collection == collection, table.c.source.in_(part)
                            )
                        )
            self.memory.remove_files(collection, sources)
            self._own.add(generation)
        return known

    def delete_collection(self, collection: str) -> None:
        with self._sync:
            with self.db.engine.begin() as conn:
                generation = self._stamp(conn, [collection])
                for table in (FILES, CHUNKS):
                    conn.execute(delete(table).where(table.c.collection == collection))
            self.memory.remove_collection(collection)
            self._own.add(generation)

    # -- embeddings -------------------------------------------------------------------------
    def set_embedding_model(self, model: str) -> None:
        """Switch the model the vectors belong to: cached vectors of that model come back;
        everything else becomes pending."""
        if model == self.embedding_model:
            return
        c, e = CHUNKS.c, EMBEDDINGS.c
        with self._sync:
            self.embedding_model = model
            with self.db.engine.begin() as conn:
                self._meta_set(conn, "embedding_model", model)
                rows = conn.execute(
                    select(c.id, e.vec).join_from(
                        CHUNKS, EMBEDDINGS, and_(e.text_hash == c.text_hash, e.model == model)
                    )
                ).all()
            self.memory.drop_vectors()
            self.memory.put_vectors_by_id([(r[0], bytes(r[1])) for r in rows])

    def put_embeddings(self, model: str, items: Sequence[tuple[int, str]], vecs: ArrayLike) -> None:
        """Store vectors for ``items`` = ``(position, text_hash)`` computed with ``model``;
        the other replicas reload the collections of those chunks."""
        if model != self.embedding_model or len(items) == 0:
            return
        matrix, uniq = unique_vectors(items, vecs)
        with self._sync:
            collections = self.memory.collections_of(items)
            with self.db.engine.begin() as conn:
                _insert_ignore(
                    conn,
                    EMBEDDINGS,
                    [{"model": model, "text_hash": h, "vec": v} for h, v in uniq.items()],
                )
                generation = self._stamp(conn, collections) if collections else None
            # positions may have been compacted/killed meanwhile: matched by hash
            self.memory.put_vectors_matching(items, matrix)
            if generation is not None:
                self._own.add(generation)
