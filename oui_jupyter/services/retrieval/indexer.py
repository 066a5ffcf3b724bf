"""Background, incremental indexing of the workspace (and embedding of pending chunks).

Two daemon threads:

* **indexer**: a full scan at start, then every ``poll_interval`` seconds a stat-only
  rescan (the file watcher), plus immediate work on paths passed to :meth:`notify`
  (Jupyter's contents events: save, rename, delete), debounced. A file whose size and
  mtime did not change is not read; one whose bytes did not change (sha256) is not
  parsed; changed files are loaded, split and written in batches (keyword-searchable
  right away); while a chat turn runs it goes on with a pause before each file (four times
  what the last one took, at least ``busy_file_pause``), so that the turn's event loop and its
  model server get the CPU and the GIL first.
* **embedder**: embeds chunks that have no vector yet, in batches, unique texts only;
  the store's embedding cache means an unchanged chunk text is never embedded twice.
  Chats come first: while a turn runs (``activity``), it waits before loading the model and
  before each slice of a batch; after ``max_pause`` seconds of turns without a break it goes
  on a slice at a time on one torch thread.

Progress goes to ``on_progress(dict)`` (throttled), the payload of ``index:progress``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...providers.embeddings import background_embedding
from ...store.index_types import ChunkIn, FileRecord
from .loaders import Unsupported, file_type_of, load
from .splitter import Splitter
from .workspace import FileStat, Workspace

if TYPE_CHECKING:
    from ...providers.embeddings import EmbeddingProvider
    from ...store.vector_index import VectorIndex
    from ..activity import GenerationActivity

log = logging.getLogger(__name__)

WORKSPACE = "workspace"


class Indexer:
    def __init__(
        self,
        store: VectorIndex,
        workspace: Workspace,
        splitter: Splitter,
        embedder: EmbeddingProvider | None = None,
        *,
        collection: str = WORKSPACE,
        on_progress: Callable[[dict], Any] | None = None,
        poll_interval: float = 2.0,
        debounce: float = 0.15,
        batch_files: int = 200,
        embed_batch: int = 256,
        progress_interval: float = 0.25,
        watch: bool = True,
        activity: GenerationActivity | None = None,
        max_pause: float = 60.0,
        busy_file_pause: float = 0.05,
    ) -> None:
        """``busy_file_pause``: the least pause before each file read while a turn runs (or
        four times what the last file took)."""
        self.store = store
        self.activity = activity
        self.max_pause = max_pause
        self.busy_file_pause = busy_file_pause
        self.workspace = workspace
        self.splitter = splitter
        self.embedder = embedder
        self.collection = collection
        self.on_progress = on_progress
        self.poll_interval = poll_interval
        self.debounce = debounce
        self.batch_files = batch_files
        self.embed_batch = embed_batch
        self.progress_interval = progress_interval
        self._known: dict[str, FileRecord] = {}
        self._dirty: set[str] = set()
        self._last_event = 0.0
        self.watch = watch  # False: no walking the root at all (uploads/process_text only)
        self._scan_requested = watch
        self._cond = threading.Condition()
        self._embed_wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = True
        self._embed_busy = False
        self._last_progress = 0.0
        self.files_total = 0
        self.files_done = 0
        self.skipped: dict[str, int] = {}
        self.errors = 0
        self.last_scan_s = 0.0
        self.scans = 0
        self.state = "starting"
        self.embed_error: str | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        for target, name in ((self._index_loop, "oui-indexer"), (self._embed_loop, "oui-embedder")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._embed_wake.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads = []

    # -- events ---------------------------------------------------------------------------
    def notify(self, *paths: str) -> None:
        """A file (or folder) changed, appeared or disappeared: re-check it soon."""
        if not self.watch:
            return
        with self._cond:
            for p in paths:
                if p:
                    self._dirty.add(self.workspace.rel(p))
            self._last_event = time.monotonic()
            self._busy = True
            self._cond.notify_all()

    def rescan(self) -> None:
        with self._cond:
            self._scan_requested = True
            self._busy = True
            self._cond.notify_all()

    def reindex_all(self) -> None:
        """Read and split every known file again (as if each had changed on disk); the
        embeddings of unchanged chunk texts still come from the store's cache."""
        for rec in list(self._known.values()):
            rec.size = -1
        self.rescan()

    def wake_embedding(self) -> None:
        """New chunks or a new model: look for chunks to embed now, not at the next tick."""
        self._embed_wake.set()

    def wait_idle(self, timeout: float = 30.0, embedded: bool = False) -> bool:
        """Block until nothing is queued (and, with ``embedded``, every chunk has a vector)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                idle = not self._busy and not self._dirty and not self._scan_requested
            if idle and (
                not embedded
                or (not self._embed_busy and self.store.stats(self.collection)["pending"] == 0)
            ):
                return True
            time.sleep(0.01)
        return False

    # -- indexing thread --------------------------------------------------------------------
    def _index_loop(self) -> None:
        try:
            if not self.store.loaded:
                self.store.open()
            self._known = {r.source: r for r in self.store.list_files(self.collection)}
        except Exception:
            log.exception("retrieval index failed to open")
            self.state = "error"
            return
        next_poll = float("inf")
        while not self._stop.is_set():
            with self._cond:
                now = time.monotonic()
                if not self._dirty and not self._scan_requested and now < next_poll:
                    self._busy = False
                    if self.state != "idle":
                        self.state = "idle"
                        self._emit(force=True)
                    self._cond.wait(min(next_poll - now, 1.0))
                    continue
                # debounce bursts of events (a save is often several writes)
                if self._dirty and not self._scan_requested:
                    quiet = now - self._last_event
                    if quiet < self.debounce:
                        self._cond.wait(self.debounce - quiet)
                        continue
                full = self.watch and (self._scan_requested or now >= next_poll)
                self._scan_requested = False
                dirty, self._dirty = self._dirty, set()
                self._busy = True
            try:
                if full:
                    self._scan()
                    # a big tree is polled less often: at most ~20% of the time walking it
                    next_poll = (
                        time.monotonic() + max(self.poll_interval, 5 * self.last_scan_s)
                        if self.poll_interval > 0
                        else float("inf")
                    )
                else:
                    self._process_paths(dirty)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("retrieval indexing failed")
                self.errors += 1

    def _scan(self) -> None:
        t0 = time.perf_counter()
        first = self.scans == 0
        if first:
            self.state = "scanning"
        seen: dict[str, FileStat] = {}
        skipped: dict[str, int] = {}
        for fs in self.workspace.walk():
            if fs.skip:
                skipped[fs.skip] = skipped.get(fs.skip, 0) + 1
                continue
            seen[fs.rel] = fs
        gone = [s for s in self._known if s not in seen]
        changed = [fs for rel, fs in seen.items() if self._changed(fs)]
        self.files_total = len(seen)
        self.files_done = len(seen) - len(changed)
        if gone:
            self.store.delete_files(self.collection, gone)
            for s in gone:
                self._known.pop(s, None)
        self._index_files(changed)
        for rec in self._known.values():
            if rec.status == "skipped" and rec.error:
                skipped[rec.error] = skipped.get(rec.error, 0) + 1
        news = first or gone or changed or skipped != self.skipped
        self.skipped = skipped
        self.scans += 1
        self.last_scan_s = time.perf_counter() - t0
        if news:  # a quiet poll says nothing
            self._emit(force=True)

    def _process_paths(self, rels: set[str]) -> None:
        todo: list[FileStat] = []
        gone: set[str] = set()
        folder_changed = False
        for rel in sorted(rels):
            path = self.workspace.resolve(rel)
            if path is not None and os.path.isdir(path):
                folder_changed = True  # a folder appeared or was renamed: walk everything
                continue
            fs = self.workspace.stat(rel) if path is not None else None
            if fs is None or fs.skip:
                prefix = rel.rstrip("/") + "/"
                gone.update(s for s in self._known if s == rel or s.startswith(prefix))
            elif self._changed(fs):
                todo.append(fs)
        if gone:
            self.store.delete_files(self.collection, sorted(gone))
            for s in gone:
                self._known.pop(s, None)
            self.files_total = max(self.files_total - len(gone), 0)
            self.files_done = max(self.files_done - len(gone), 0)
        self.files_total += sum(1 for fs in todo if fs.rel not in self._known)
        self.files_done -= sum(1 for fs in todo if fs.rel in self._known)
        self._index_files(todo)
        if folder_changed:
            self._scan()
        elif gone:
            self._emit(force=True)

    def _changed(self, fs: FileStat) -> bool:
        rec = self._known.get(fs.rel)
        return rec is None or rec.size != fs.size or rec.mtime != fs.mtime

    def _index_files(self, files: list[FileStat]) -> None:
        if not files:
            return
        self.state = "indexing"
        batch: list[tuple[FileRecord, list[ChunkIn] | None]] = []
        t_batch = time.monotonic()
        took = 0.0
        for fs in files:
            if self.activity is not None and self.activity.busy:
                # the turn's event loop and model server go first: a fifth of the time at most
                self._stop.wait(max(self.busy_file_pause, 4 * took))
            if self._stop.is_set():
                return
            started = time.monotonic()
            item = self._prepare(fs)
            took = time.monotonic() - started
            if item is not None:
                batch.append(item)
            else:
                self.files_done += 1
            if len(batch) >= self.batch_files or (batch and time.monotonic() - t_batch > 0.5):
                self._flush(batch)
                batch, t_batch = [], time.monotonic()
        self._flush(batch)

    def _prepare(self, fs: FileStat) -> tuple[FileRecord, list[ChunkIn] | None] | None:
        """Read + parse one file; ``None`` when only its mtime changed (recorded here)."""
        ftype = file_type_of(fs.rel)
        try:
            data = self.workspace.read(fs)
        except (OSError, PermissionError) as e:
            log.debug("cannot read %s: %s", fs.rel, e)
            return FileRecord(
                self.collection, fs.rel, fs.size, fs.mtime, "", ftype, 0, "skipped", "unreadable"
            ), []
        if len(data) > self.workspace.max_file_size:
            return FileRecord(
                self.collection, fs.rel, fs.size, fs.mtime, "", ftype, 0, "skipped", "too_large"
            ), []
        sha = hashlib.sha256(data).hexdigest()
        old = self._known.get(fs.rel)
        if old is not None and old.sha256 == sha:
            old.size, old.mtime = fs.size, fs.mtime
            self.store.touch_file(old)
            return None
        try:
            sections = load(data, fs.rel)
            chunks = self.splitter.split(sections)
        except Unsupported as e:
            reason = "binary" if "binary" in str(e) or "UTF-8" in str(e) else "unparseable"
            return FileRecord(
                self.collection, fs.rel, fs.size, fs.mtime, sha, ftype, 0, "skipped", reason
            ), []
        except Exception:
            log.exception("failed to load %s", fs.rel)
            return FileRecord(
                self.collection, fs.rel, fs.size, fs.mtime, sha, ftype, 0, "skipped", "error"
            ), []
        items = []
        for c in chunks:
            meta = {"source": fs.rel, "file_type": ftype, "collection": self.collection, **c.meta}
            items.append(ChunkIn(c.text, meta))
        return FileRecord(self.collection, fs.rel, fs.size, fs.mtime, sha, ftype, len(items)), items

    def _flush(self, batch: list[tuple[FileRecord, list[ChunkIn] | None]]) -> None:
        if not batch:
            return
        pending = self.store.write_files(batch)
        for rec, _ in batch:
            self._known[rec.source] = rec
        self.files_done += len(batch)
        if pending:
            self._embed_wake.set()
        self._emit()

    # -- embedding thread ----------------------------------------------------------------------
    def _embed_loop(self) -> None:
        while not self._stop.is_set():
            self._embed_wake.wait(1.0)
            self._embed_wake.clear()
            embedder = self.embedder
            if embedder is None or self._stop.is_set() or not self.store.loaded:
                continue
            worked = False
            try:
                worked = self._embed_pending(embedder)
            except Exception:  # the store closed under us at shutdown, or a bug: keep going
                if self._stop.is_set():
                    return
                log.exception("embedding pending chunks failed")
                self._stop.wait(1.0)
            finally:
                self._embed_busy = False
            if worked:
                self._emit(force=True)

    def _embed_pending(self, embedder: EmbeddingProvider) -> bool:
        """Embed until nothing is pending; True if anything was embedded."""
        worked = False
        while not self._stop.is_set() and embedder is self.embedder:
            items = self.store.pending(self.embed_batch)
            if not items:
                return worked
            self._embed_busy = True
            if not embedder.ready:
                self._yield_to_chats()  # importing torch and loading the model: seconds of CPU
                if self._stop.is_set():
                    return worked
                embedder.start_loading()
                while not embedder.wait_ready(0.2):
                    if self._stop.is_set() or getattr(embedder, "error", None):
                        break
                if not embedder.ready:
                    self.embed_error = (
                        getattr(embedder, "error", None) or "embedding model not loaded"
                    )
                    return worked
            if self.store.embedding_model != embedder.model_id:
                self.store.set_embedding_model(embedder.model_id)
                continue
            by_hash: dict[str, list[int]] = {}
            uniq: dict[str, str] = {}
            for p, h, text in items:
                uniq.setdefault(h, text)
                by_hash.setdefault(h, []).append(p)
            hashes = list(uniq)
            step = max(int(getattr(embedder, "batch_size", 32) or 32), 1)
            for start in range(0, len(hashes), step):
                part = hashes[start : start + step]
                quiet = self._yield_to_chats()
                if self._stop.is_set() or embedder is not self.embedder:
                    return worked
                try:
                    with background_embedding(None if quiet else 1):
                        vecs = embedder.embed([uniq[h] for h in part])
                except Exception as e:
                    self.embed_error = str(e)
                    log.warning("embedding failed: %s", e)
                    self._stop.wait(5.0)
                    return worked
                self.embed_error = None
                rows = [(p, h, i) for i, h in enumerate(part) for p in by_hash[h]]
                self.store.put_embeddings(
                    embedder.model_id, [(p, h) for p, h, _ in rows], vecs[[i for _, _, i in rows]]
                )
                worked = True
                self._emit()
        return worked

    def _yield_to_chats(self) -> bool:
        """Wait while chat turns run, at most ``max_pause`` s; True when none runs now."""
        if self.activity is None:
            return True
        return self.activity.wait_quiet(self.max_pause, self._stop)

    # -- progress --------------------------------------------------------------------------------
    def progress(self) -> dict:
        st = (
            self.store.stats(self.collection)
            if self.store.loaded
            else {"files": 0, "chunks": 0, "embedded": 0, "pending": 0, "model": "", "dim": 0}
        )
        return {
            "collection": self.collection,
            "state": self.state,
            "files_done": self.files_done,
            "files_total": self.files_total,
            "chunks_total": st["chunks"],
            "chunks_embedded": st["embedded"],
            "skipped": dict(self.skipped),
            "model": getattr(self.embedder, "model_id", None),
            "embedding_error": self.embed_error,
        }

    def _emit(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < self.progress_interval:
            return
        self._last_progress = now
        try:
            self.on_progress(self.progress())
        except Exception:  # a broken listener must not stop indexing
            log.exception("index progress listener failed")
