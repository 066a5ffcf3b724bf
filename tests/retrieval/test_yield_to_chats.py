"""Chats come first: the index's embedding waits while a chat turn runs, and a cold embedding
model never holds up a turn (keyword search answers; the model loads once no turn runs)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from oui_jupyter.services.activity import GenerationActivity
from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
from retrieval.helpers import HashEmbedder


def wait_for(pred, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class ColdEmbedder(HashEmbedder):
    """Not loaded until asked: ``start_loading`` is recorded and loads in a moment."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = False
        self.load_requests = 0
        self._loaded = threading.Event()

    def start_loading(self) -> None:
        self.load_requests += 1
        self.ready = True
        self._loaded.set()

    def wait_ready(self, timeout=None) -> bool:
        self._loaded.wait(timeout)
        return self.ready


def make_service(
    root: Path, data: Path, activity: GenerationActivity, embedder
) -> RetrievalService:
    cfg = RetrievalConfig(
        root_dir=str(root),
        data_dir=str(data),
        index_start_delay=0,
        index_poll_interval=0.2,
    )
    svc = RetrievalService(cfg, activity=activity)
    svc.embedder = svc.indexer.embedder = embedder
    svc.store.embedding_model = embedder.model_id
    return svc


# -- the gate ---------------------------------------------------------------------------------
def test_activity_counts_holds_and_releases_each_once() -> None:
    activity = GenerationActivity(settle=0)
    first, second = activity.hold(), activity.hold()
    assert activity.running == 2 and activity.busy
    first.release()
    first.release()  # a turn may end by several paths: counted once
    assert activity.running == 1
    assert activity.wait_quiet(timeout=0.05) is False
    second.release()
    assert not activity.busy and activity.wait_quiet(timeout=1)


def test_wait_quiet_returns_when_the_last_turn_ends_or_stop_is_set() -> None:
    activity = GenerationActivity(settle=0)
    hold = activity.hold()
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(activity.wait_quiet(timeout=30)))
    waiter.start()
    time.sleep(0.1)
    assert woke == []
    hold.release()
    waiter.join(5)
    assert woke == [True]
    stop = threading.Event()
    activity.hold()
    stop.set()
    assert activity.wait_quiet(timeout=30, stop=stop) is False


def test_when_quiet_runs_the_work_after_the_turn() -> None:
    activity = GenerationActivity(settle=0)
    hold = activity.hold()
    done = threading.Event()
    activity.when_quiet(done.set)
    assert not done.wait(0.2)
    hold.release()
    assert done.wait(5)


# -- the index's embedding yields -----------------------------------------------------------------
def test_embedding_pauses_during_a_turn_and_resumes_after(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    activity = GenerationActivity(settle=0)
    embedder = HashEmbedder()
    svc = make_service(root, tmp_path / "data", activity, embedder)
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(30, embedded=True)
    hold = activity.hold()  # a chat turn runs
    try:
        for i in range(40):
            (root / f"note{i}.md").write_text(f"# Note {i}\n\nThe walrus number {i} sings.\n")
        svc.indexer.rescan()
        # keyword indexing goes on: the new files are searchable at once...
        assert wait_for(lambda: svc.status()["files"] == 40)
        assert svc.indexer.wait_idle(10)
        hits = svc.hits("walrus sings", k=3, mode="keyword")
        assert hits and hits[0].meta["source"].startswith("note")
        # ...but nothing is embedded while the turn runs
        time.sleep(0.5)
        assert embedder.calls == 0 and svc.status()["pending"] > 0
    finally:
        hold.release()
    assert svc.indexer.wait_idle(30, embedded=True)
    assert embedder.calls >= 1 and svc.status()["pending"] == 0
    svc.stop()


def test_keyword_indexing_paces_itself_while_a_turn_runs(tmp_path: Path) -> None:
    """A pause before each file: the turn's event loop and model server get the CPU (and the
    GIL) first; the files still become searchable while it runs, all of them after it."""
    root = tmp_path / "root"
    root.mkdir()
    for i in range(30):
        (root / f"note{i}.md").write_text(f"# Note {i}\n\nThe narwhal number {i} hums.\n")
    activity = GenerationActivity(settle=0)
    svc = make_service(root, tmp_path / "data", activity, HashEmbedder())
    svc.indexer.busy_file_pause = 0.25
    hold = activity.hold()  # a chat turn runs
    try:
        svc.start()
        svc.ensure_started()
        assert wait_for(lambda: svc.status()["files"] >= 1)
        before = svc.status()["files"]
        time.sleep(0.5)
        # at most one file per pause: three more in half a second, whatever the machine
        assert before <= svc.status()["files"] <= min(before + 3, 29)
    finally:
        hold.release()
    assert wait_for(lambda: svc.status()["files"] == 30)
    svc.stop()


def test_embedding_goes_on_a_slice_at_a_time_after_a_long_pause(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for i in range(5):
        (root / f"note{i}.md").write_text(f"# Note {i}\n\nPenguins number {i}.\n")
    activity = GenerationActivity(settle=0)
    embedder = HashEmbedder()
    svc = make_service(root, tmp_path / "data", activity, embedder)
    svc.indexer.max_pause = 0.2  # turns without a break: embedding must not starve
    hold = activity.hold()
    try:
        svc.start()
        svc.ensure_started()
        assert svc.indexer.wait_idle(30, embedded=True)
        assert activity.busy and embedder.calls >= 1
    finally:
        hold.release()
        svc.stop()


# -- a cold model never holds up a turn ----------------------------------------------------------
def test_a_turn_with_a_cold_model_searches_by_keyword_and_loads_it_after(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.md").write_text("# Marmalade Falcon\n\nThe project ships in spring.\n")
    activity = GenerationActivity(settle=0)
    embedder = ColdEmbedder()
    svc = make_service(root, tmp_path / "data", activity, embedder)
    hold = activity.hold()  # the turn starts before anything is loaded
    try:
        svc.start()
        svc.ensure_started()
        assert svc.indexer.wait_idle(10)
        result = svc.search("When does Marmalade Falcon ship?", flt=svc.resolve_filter([]))
        assert [h.meta["source"] for h in result.hits] == ["notes.md"]
        assert result.retrievers == ["keyword"]
        time.sleep(0.3)
        assert embedder.load_requests == 0, "the model was loaded beside the turn"
    finally:
        hold.release()
    assert wait_for(lambda: embedder.ready)
    assert svc.indexer.wait_idle(30, embedded=True)
    later = svc.search("When does Marmalade Falcon ship?", flt=svc.resolve_filter([]))
    assert "vector" in later.retrievers
    svc.stop()


@pytest.mark.parametrize("has_vectors", [True, False])
def test_the_model_is_warmed_at_open_only_when_queries_will_need_it(
    tmp_path: Path, has_vectors: bool
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nalpha beta\n")
    activity = GenerationActivity(settle=0)
    data = tmp_path / "data"
    if has_vectors:  # a first server embeds the workspace
        first = make_service(root, data, activity, HashEmbedder())
        first.start()
        first.ensure_started()
        assert first.indexer.wait_idle(30, embedded=True)
        first.stop()
    else:
        root.joinpath("a.md").unlink()
    embedder = ColdEmbedder()
    svc = make_service(root, data, activity, embedder)
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(10)
    if has_vectors:
        assert wait_for(lambda: embedder.load_requests == 1)
    else:
        time.sleep(0.3)
        assert embedder.load_requests == 0
    svc.stop()
