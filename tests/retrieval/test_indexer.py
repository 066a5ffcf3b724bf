"""The live workspace index on a real temporary root, with a counting fake embedder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
from retrieval.helpers import HashEmbedder, analysis_notebook


@pytest.fixture
def service(ws_root: Path, tmp_path: Path):
    events: list[dict] = []
    cfg = RetrievalConfig(
        root_dir=str(ws_root),
        data_dir=str(tmp_path / "data"),
        index_start_delay=0,
        index_poll_interval=0.3,
        index_max_file_size=1024 * 1024,
    )
    svc = RetrievalService(cfg, on_progress=events.append)
    emb = HashEmbedder()
    svc.embedder = svc.indexer.embedder = emb
    svc.store.embedding_model = emb.model_id
    svc.events = events
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(30, embedded=True)
    yield svc
    svc.stop()


def sources(svc, query, k=5, mode="keyword", **kw):
    return [
        m["source"] for m in svc.query(["workspace"], query, k, mode=mode, **kw)["metadatas"][0]
    ]


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_initial_index_covers_every_kind(service):
    st = service.status()
    assert st["files"] == st["files_total"] == 7
    assert st["pending"] == 0 and st["embedded"] == st["chunks"] > 10
    res = service.query(["workspace"], "emperor penguin dives", 3, mode="keyword")
    top = res["metadatas"][0][0]
    assert (
        top["source"] == "analysis.ipynb" and top["cell"] == 3 and top["cell_id"] == "emperor-cell"
    )
    assert res["retrievers"] == ["keyword"]
    hit = service.query(["workspace"], "seismograph calibration", 1, mode="keyword")["metadatas"][
        0
    ][0]
    assert hit["source"] == "docs/manual.pdf" and hit["page"] == 2
    hit = service.query(["workspace"], "flipper_length_mm mean", 1, mode="keyword")["metadatas"][0][
        0
    ]
    assert hit["cell_id"] == "mean-cell"
    assert sources(service, "glacier retreated") == ["docs/page.html"]
    assert sources(service, "hydraulic pressure sensor")[0] == "docs/README.md"
    assert sources(service, "bonsai") == ["notes.txt"]
    assert "data/penguins.csv" in sources(service, "Torgersen island bill depth")
    # progress events went out with counts
    last = service.events[-1]
    assert last["files_done"] == last["files_total"] == 7 and last["chunks_total"] == st["chunks"]


def test_hybrid_answers_with_both_retrievers(service):
    res = service.query(["workspace"], "polygon perimeter edge lengths", 3)
    assert set(res["retrievers"]) == {"keyword", "vector"}
    assert res["metadatas"][0][0]["source"] == "src/geometry.py"
    assert res["metadatas"][0][0]["symbol"] == "Polygon"
    assert set(res["metadatas"][0][0]["retrievers"]) == {"keyword", "vector"}


def test_edit_rename_delete_while_running(service, ws_root: Path):
    emb = service.embedder
    nb_path = ws_root / "analysis.ipynb"
    before = len(emb.texts)
    # edit one cell of the notebook
    nb_path.write_text(analysis_notebook("The king penguin breeds on subantarctic islands."))
    service.notify_path("analysis.ipynb")
    assert wait_for(lambda: sources(service, "subantarctic") == ["analysis.ipynb"], 5)
    assert service.indexer.wait_idle(10, embedded=True)
    assert emb.texts[before:] == [
        "The king penguin breeds on subantarctic islands."
    ]  # only the edited cell
    assert sources(service, "emperor dives") == []

    # rename: found under the new name, nothing re-embedded
    before = len(emb.texts)
    os.rename(ws_root / "notes.txt", ws_root / "docs" / "garden.txt")
    service.notify_path("notes.txt", "docs/garden.txt")
    assert wait_for(lambda: sources(service, "bonsai") == ["docs/garden.txt"], 5)
    assert service.indexer.wait_idle(10, embedded=True)
    assert emb.texts[before:] == []

    # delete
    (ws_root / "docs" / "page.html").unlink()
    service.notify_path("docs/page.html")
    assert wait_for(lambda: sources(service, "glacier") == [], 5)

    # a new file picked up by the poller, with no notification at all
    (ws_root / "src" / "new_module.py").write_text("def quasar():\n    return 'pulsar magnetar'\n")
    assert wait_for(lambda: sources(service, "magnetar") == ["src/new_module.py"], 5)


def test_unchanged_files_are_not_read_again(service, ws_root: Path, monkeypatch):
    reads = []
    real_read = service.workspace.read
    monkeypatch.setattr(service.workspace, "read", lambda fs: reads.append(fs.rel) or real_read(fs))
    service.indexer.rescan()
    time.sleep(0.1)
    assert service.indexer.wait_idle(10)
    assert reads == []
    # touched but same bytes: read (mtime changed) but not re-split or re-embedded
    emb_calls = service.embedder.calls
    os.utime(ws_root / "notes.txt", (time.time() + 5, time.time() + 5))
    service.notify_path("notes.txt")
    assert wait_for(lambda: reads == ["notes.txt"], 5)
    assert service.indexer.wait_idle(10, embedded=True)
    assert service.embedder.calls == emb_calls


def test_skips_symlink_out_of_root_big_binary_and_ignored(service, ws_root: Path, tmp_path: Path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("top secret launch codes")
    os.symlink(secret, ws_root / "link.txt")
    os.symlink(secret.parent, ws_root / "linkdir")
    (ws_root / "inside_link.md").symlink_to(ws_root / "docs" / "README.md")
    with open(ws_root / "huge.txt", "wb") as f:  # 50 MB
        f.write(b"needle " * (50 * 1024 * 1024 // 7))
    (ws_root / "binary.py").write_bytes(b"\x00\x01\x02ELF junk" * 100)
    (ws_root / ".gitignore").write_text("ignored_dir/\n*.log\n")
    (ws_root / "ignored_dir").mkdir()
    (ws_root / "ignored_dir" / "x.md").write_text("ignoredword")
    (ws_root / "run.log").write_text("ignoredword")
    (ws_root / "node_modules").mkdir()
    (ws_root / "node_modules" / "m.js").write_text("function ignoredword() {}")
    (ws_root / ".hidden.md").write_text("ignoredword")
    service.indexer.rescan()
    time.sleep(0.1)
    assert service.indexer.wait_idle(20)
    st = service.status()
    assert st["skipped"].get("outside_root") == 1
    assert st["skipped"].get("too_large") == 1
    assert st["skipped"].get("binary") == 1
    assert sources(service, "launch codes") == []
    assert sources(service, "needle") == []
    assert sources(service, "ignoredword") == []
    assert "inside_link.md" in sources(service, "hydraulic pressure sensor")
    assert service.workspace.resolve("../outside/secret.txt") is None
    assert service.workspace.resolve("link.txt") is None


def test_index_survives_restart_without_rereading(ws_root: Path, tmp_path: Path, monkeypatch):
    cfg = RetrievalConfig(
        root_dir=str(ws_root),
        data_dir=str(tmp_path / "d"),
        index_start_delay=0,
        index_poll_interval=0,
    )
    emb = HashEmbedder()

    def make():
        svc = RetrievalService(cfg)
        svc.embedder = svc.indexer.embedder = emb
        svc.store.embedding_model = emb.model_id
        return svc

    svc = make()
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(30, embedded=True)
    n_embedded = len(emb.texts)
    svc.stop()
    svc = make()
    reads = []
    real_read = svc.workspace.read
    monkeypatch.setattr(svc.workspace, "read", lambda fs: reads.append(fs.rel) or real_read(fs))
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(30, embedded=True)
    assert reads == [] and len(emb.texts) == n_embedded
    assert sources(svc, "bonsai") == ["notes.txt"]
    svc.stop()


def test_new_exclusions_and_chunking_apply_at_run_time(service, monkeypatch):
    assert "notes.txt" in service.store.sources("workspace")
    service.update_config({"exclude": ["notes.txt"]})
    assert wait_for(lambda: "notes.txt" not in service.store.sources("workspace"))
    assert service.get_config()["exclude"] == ["notes.txt"]
    assert service.indexer.wait_idle(30)
    reads: list[str] = []
    read = service.workspace.read
    monkeypatch.setattr(service.workspace, "read", lambda fs: reads.append(fs.rel) or read(fs))
    service.update_config({"chunk_size": 120})
    assert wait_for(lambda: len(reads) >= 6, 30)  # every indexed file is read and split again
    assert service.indexer.wait_idle(30, embedded=True)
    assert sources(service, "bonsai") == []
