"""The stored indexes, each test on every engine: DuckDB (single-user servers) and the team
database's (``PgVectorIndex``) on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from oui_jupyter.store import migrate
from oui_jupyter.store.db import Database
from oui_jupyter.store.pg_index import PgVectorIndex
from oui_jupyter.store.vector_index import VectorIndex
from oui_jupyter.store.vector_store import ChunkIn, DuckDBVectorStore, FileRecord, SearchFilter

MakeStore = Callable[..., DuckDBVectorStore | PgVectorIndex]


@pytest.fixture(params=["duckdb", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """``make_store(model)``: an index on this test's storage (the same one each call)."""
    if request.param == "duckdb":
        path = str(tmp_path / "idx.duckdb")
        yield lambda model="": DuckDBVectorStore(path, embedding_model=model)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'oui.db'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
    db = Database(url)
    migrate.upgrade(db.engine)
    yield lambda model="": PgVectorIndex("", embedding_model=model, db=db)
    db.dispose()


def test_both_engines_are_vector_indexes():
    assert issubclass(DuckDBVectorStore, VectorIndex)
    assert issubclass(PgVectorIndex, VectorIndex)


def rec(source, collection="workspace", n=1, ftype="py"):
    return FileRecord(collection, source, 10, 1.0, "sha-" + source, ftype, n)


def chunks(source, texts, collection="workspace"):
    return [
        ChunkIn(
            t, {"source": source, "collection": collection, "start_line": i + 1, "end_line": i + 1}
        )
        for i, t in enumerate(texts)
    ]


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def test_write_search_persist_and_reload(make_store):
    st = make_store("m1")
    st.open()
    pending = st.write_files(
        [
            (rec("a.py"), chunks("a.py", ["alpha beta", "gamma delta"])),
            (rec("b.md", ftype="md"), chunks("b.md", ["beta epsilon"])),
        ]
    )
    assert pending == 3
    pos, _ = st.keyword_search("beta", 10, st.mask(None))
    assert len(pos) == 2
    items = st.pending(10)
    vecs = np.stack([unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])])
    st.put_embeddings("m1", [(p, h) for p, h, _ in items], vecs)
    assert st.stats()["embedded"] == 3
    pos, scores = st.vector_search(unit([0, 1, 0.1]), 2)
    assert st.fetch(pos[:1])[0][0] == "gamma delta" and scores[0] > scores[1]
    st.close()

    st2 = make_store("m1")
    st2.open()
    assert st2.stats() == {
        "files": 2,
        "chunks": 3,
        "embedded": 3,
        "pending": 0,
        "model": "m1",
        "dim": 3,
    }
    assert st2.get_file("workspace", "a.py").sha256 == "sha-a.py"
    assert st2.get_file("workspace", "missing.py") is None
    pos, _ = st2.keyword_search("epsilon", 5, st2.mask(None))
    text, meta = st2.fetch(pos)[0]
    assert text == "beta epsilon" and meta["source"] == "b.md"
    st2.close()


def test_unchanged_text_is_never_reembedded(make_store):
    st = make_store("m")
    st.open()
    st.write_files([(rec("a.py"), chunks("a.py", ["one", "two"]))])
    items = st.pending(10)
    st.put_embeddings("m", [(p, h) for p, h, _ in items], np.eye(2, 4, dtype=np.float32))
    # the file is edited: one chunk unchanged, one new; then renamed
    assert st.write_files([(rec("a.py"), chunks("a.py", ["one", "three"]))]) == 1
    assert [t for _, _, t in st.pending(10)] == ["three"]
    st.delete_files("workspace", ["a.py"])
    assert st.write_files([(rec("moved.py"), chunks("moved.py", ["one"]))]) == 0


def test_filters_collections_sources_globs_types(make_store):
    st = make_store()
    st.open()
    st.write_files(
        [
            (rec("src/a.py"), chunks("src/a.py", ["shared word"])),
            (rec("docs/b.md", ftype="md"), chunks("docs/b.md", ["shared word"])),
            (
                rec("up.txt", collection="file-1", ftype="txt"),
                chunks("up.txt", ["shared word"], "file-1"),
            ),
        ]
    )

    def sources(flt):
        pos, _ = st.keyword_search("shared", 10, st.mask(flt))
        return sorted(m["source"] for _, m in st.fetch(pos))

    assert sources(None) == ["docs/b.md", "src/a.py", "up.txt"]
    assert sources(SearchFilter(collections=["workspace"])) == ["docs/b.md", "src/a.py"]
    assert sources(SearchFilter(collections=["file-1"])) == ["up.txt"]
    assert sources(SearchFilter(collections=["file-1"], sources=["src/a.py"])) == [
        "src/a.py",
        "up.txt",
    ]
    assert sources(SearchFilter(globs=["docs/*"])) == ["docs/b.md"]
    assert sources(SearchFilter(file_types=["py"])) == ["src/a.py"]
    assert sources(SearchFilter(collections=["nope"])) == []


def test_compaction_keeps_search_right(make_store):
    st = make_store("m")
    st.open()
    batch = [
        (rec(f"f{i}.py"), chunks(f"f{i}.py", [f"token{i} common", f"other{i} common"]))
        for i in range(1200)
    ]
    st.write_files(batch)
    items = st.pending(10_000)
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(len(items), 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    st.put_embeddings("m", [(p, h) for p, h, _ in items], vecs)
    target_text = items[2399][2]
    target_vec = vecs[2399]
    st.delete_files("workspace", [f"f{i}.py" for i in range(1000)])  # triggers compaction
    assert st.memory.positions == 400 and st.stats()["chunks"] == 400
    pos, _ = st.vector_search(target_vec, 1)
    assert st.fetch(pos)[0][0] == target_text
    pos, _ = st.keyword_search("common", 1000, st.mask(None))
    assert len(pos) == 400


def test_model_change_makes_everything_pending_and_back(make_store):
    st = make_store("m1")
    st.open()
    st.write_files([(rec("a.py"), chunks("a.py", ["x", "y"]))])
    items = st.pending(10)
    st.put_embeddings("m1", [(p, h) for p, h, _ in items], np.eye(2, 3, dtype=np.float32))
    st.set_embedding_model("m2")
    assert st.stats()["pending"] == 2
    st.set_embedding_model("m1")
    assert st.stats()["pending"] == 0
