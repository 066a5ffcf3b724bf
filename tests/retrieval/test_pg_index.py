"""``PgVectorIndex`` as two replicas see it: two indexes on one database (SQLite and
PostgreSQL), each catching up with the other's writes before it searches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from oui_jupyter.store import migrate
from oui_jupyter.store.db import Database
from oui_jupyter.store.pg_index import PgVectorIndex
from oui_jupyter.store.vector_store import ChunkIn, FileRecord, SearchFilter

pytestmark = pytest.mark.storage


@pytest.fixture
def db(oui_database_url: str) -> Iterator[Database]:
    database = Database(oui_database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def replica(db: Database, model: str = "m") -> PgVectorIndex:
    index = PgVectorIndex("", embedding_model=model, db=db)
    index.open()
    return index


def write(index: PgVectorIndex, collection: str, source: str, texts: list[str]) -> int:
    rec = FileRecord(collection, source, 10, 1.0, "sha-" + source, "txt", len(texts))
    chunks = [ChunkIn(t, {"source": source, "collection": collection}) for t in texts]
    return index.write_files([(rec, chunks)])


def found(index: PgVectorIndex, word: str, collection: str | None = None) -> list[str]:
    flt = SearchFilter(collections=[collection]) if collection else None
    with index.reading():
        pos, _ = index.keyword_search(word, 10, index.mask(flt))
        return sorted(meta["source"] for _, meta in index.fetch(pos))


def test_a_write_on_one_is_searchable_on_the_other(db: Database):
    a, b = replica(db), replica(db)
    write(a, "file-1", "notes.txt", ["tubas are brass", "violins are strings"])
    assert found(b, "tubas") == ["notes.txt"]
    assert b.sources("file-1") == ["notes.txt"]
    assert [f.source for f in b.list_files("file-1")] == ["notes.txt"]
    assert b.reloads == 1
    # searching again reads one row and reloads nothing
    assert found(b, "violins") == ["notes.txt"] and b.reloads == 1
    # a's own writes are in its memory already: never reloaded
    write(a, "file-2", "more.txt", ["tubas again"])
    assert found(a, "tubas") == ["more.txt", "notes.txt"] and a.reloads == 0
    assert found(b, "tubas", "file-2") == ["more.txt"]


def test_deletes_and_replacements_reach_the_other(db: Database):
    a, b = replica(db), replica(db)
    write(a, "file-1", "x.txt", ["alpha words"])
    write(a, "file-2", "y.txt", ["alpha other"])
    assert found(b, "alpha") == ["x.txt", "y.txt"]
    assert b.delete_files("file-1", ["x.txt"]) == 1
    assert found(a, "alpha") == ["y.txt"]
    write(b, "file-2", "y.txt", ["beta replaced"])
    assert found(a, "alpha") == [] and found(a, "beta") == ["y.txt"]
    b.delete_collection("file-2")
    assert found(a, "beta") == [] and a.stats()["chunks"] == 0


def test_vectors_made_on_one_reach_the_other(db: Database):
    a, b = replica(db), replica(db)
    assert write(a, "file-1", "v.txt", ["one", "two"]) == 2
    assert found(b, "one") == ["v.txt"] and b.stats()["pending"] == 2
    items = a.pending(10)
    a.put_embeddings("m", [(p, h) for p, h, _ in items], np.eye(2, 4, dtype=np.float32))
    with b.reading():
        pos, _ = b.vector_search(np.array([0, 1, 0, 0], np.float32), 1)
        assert b.fetch(pos)[0][0] == "two"
    assert b.stats()["embedded"] == 2 and b.stats()["pending"] == 0
    # the same text written again on b comes with its vector from the cache
    assert write(b, "file-3", "w.txt", ["one"]) == 0


def test_a_replica_opened_later_has_everything(db: Database):
    a = replica(db)
    write(a, "file-1", "a.txt", ["kept words", "more words"])
    items = a.pending(10)
    a.put_embeddings("m", [(p, h) for p, h, _ in items], np.eye(2, 3, dtype=np.float32))
    a.delete_files("file-1", ["missing.txt"])
    late = replica(db)
    assert late.stats() == {
        "files": 1,
        "chunks": 2,
        "embedded": 2,
        "pending": 0,
        "model": "m",
        "dim": 3,
    }
    assert found(late, "kept") == ["a.txt"] and late.reloads == 0


def test_upload_bytes_in_the_database(db: Database):
    from oui_jupyter.store.blobs import DbBlobs

    blobs = DbBlobs(db)
    path = blobs.put("f1", "notes.txt", b"\x00bytes\xff")
    assert DbBlobs(db).get(path) == b"\x00bytes\xff"  # another replica reads them
    blobs.remove(path)
    with pytest.raises(KeyError):
        blobs.get(path)
    with pytest.raises(KeyError):
        blobs.get("/data/uploads/f1_notes.txt")  # not one of the database's
