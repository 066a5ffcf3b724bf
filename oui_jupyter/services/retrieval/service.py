"""``RetrievalService``: the one object the app builds for retrieval.

It owns the index store (a swappable class), the workspace watcher/indexer, the
embedding provider, and answers queries (hybrid by default), text/file processing and
RAG context for chat turns. Everything slow (opening DuckDB, walking the root, loading
the model) happens in background threads started by :meth:`start`; methods that search
or write are blocking and meant to run off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ...errors import InvalidInput, NotReady
from ...heap import freeze_long_lived
from ...providers.embeddings import DEFAULT_MODEL, EmbeddingProvider, make_embedding_provider
from ...store.index_types import ChunkIn, FileRecord, Hit, SearchFilter
from ...store.vector_index import RenamesCollections, VectorIndex
from ..activity import GenerationActivity
from ..users import UserInfo
from .defaults import (
    DEFAULT_EXCLUDE,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_RELEVANCE,
    DEFAULT_RAG_TEMPLATE,
)
from .indexer import WORKSPACE, Indexer
from .loaders import Section, Unsupported, file_type_of, load
from .names import PRIVATE_KEYS_MARKER, legacy_private_renames
from .rag import build_context
from .relevance import NO_MATCH_NOTE, RelevanceBar
from .search import FUSIONS, MODES, SearchResult, search
from .splitter import Splitter, TokenCounter
from .workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class RetrievalConfig:
    """Every field but ``root_dir`` has the name of the ``OuiJupyter`` traitlet that sets it
    (the app copies them by name); the help texts are there."""

    root_dir: str
    data_dir: str
    retrieval_store_class: Callable[..., VectorIndex] | None = None  # DuckDBVectorStore
    index_workspace: bool = True
    embedding_engine: str = "sentence-transformers"  # or "openai" (any /v1/embeddings)
    embedding_model: str = DEFAULT_MODEL
    embedding_base_url: str = ""
    embedding_api_key: str = ""
    embedding_batch_size: int = 32
    chunk_size: int = 240  # word pieces; MiniLM reads at most 256
    chunk_overlap: int = 32
    index_exclude: Sequence[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    index_include_hidden: bool = False
    index_max_file_size: int = 10 * 1024 * 1024
    rag_top_k: int = 5
    hybrid_search: bool = True
    hybrid_fusion: str = "relative"  # or "rrf"
    hybrid_alpha: float = 0.5  # the vector retriever's weight in relative fusion
    hybrid_rrf_k: int = 60
    index_poll_interval: float = 2.0
    index_start_delay: float = 2.0
    rag_template: str = DEFAULT_RAG_TEMPLATE
    rag_budget_chars: int = 6000
    rag_relevance_threshold: float = DEFAULT_MIN_RELEVANCE
    rag_keyword_relevance: float = DEFAULT_MIN_COVERAGE


#: the settings ``get_config`` shows and ``update_config`` changes at run time: their names
#: in the HTTP API (``v1/retrieval/config``) -> ``RetrievalConfig`` fields
API_SETTINGS = {
    "embedding_engine": "embedding_engine",
    "embedding_model": "embedding_model",
    "embedding_base_url": "embedding_base_url",
    "embedding_api_key": "embedding_api_key",
    "embedding_batch_size": "embedding_batch_size",
    "chunk_size": "chunk_size",
    "chunk_overlap": "chunk_overlap",
    "top_k": "rag_top_k",
    "hybrid": "hybrid_search",
    "fusion": "hybrid_fusion",
    "hybrid_alpha": "hybrid_alpha",
    "rag_template": "rag_template",
    "rag_budget_chars": "rag_budget_chars",
    "relevance_threshold": "rag_relevance_threshold",
    "keyword_relevance": "rag_keyword_relevance",
    "exclude": "index_exclude",
    "max_file_size": "index_max_file_size",
}
_API_NAME = {f: api for api, f in API_SETTINGS.items()}


@dataclass
class RagContext:
    """A turn's retrieval: the prompt block ("" for none), its sources, and ``note`` when the
    whole workspace was searched and no hit cleared the relevance bar."""

    prompt: str = ""
    sources: list[dict] = field(default_factory=list)
    note: str | None = None


# Collections resolver: (name, user) -> SearchFilter for a knowledge collection, or None.
CollectionResolver = Callable[[str, "UserInfo | None"], "SearchFilter | None"]


def index_path(data_dir: str, root_dir: str) -> str:
    """One DuckDB file per workspace root."""
    root = os.path.realpath(root_dir)
    digest = hashlib.sha1(root.encode()).hexdigest()[:12]
    name = os.path.basename(root.rstrip(os.sep)) or "root"
    return os.path.join(data_dir, "retrieval", f"{name}-{digest}.duckdb")


class RetrievalService:
    def __init__(
        self,
        config: RetrievalConfig,
        *,
        on_progress: Callable[[dict], Any] | None = None,
        resolver: CollectionResolver | None = None,
        user_ids: Callable[[], list[str]] | None = None,
        activity: GenerationActivity | None = None,
    ) -> None:
        """``resolver``: what a collection name means for a user (knowledge's answer);
        ``user_ids``: every user id (the database's), to rename private collections of old
        indexes; ``activity``: the running chat turns, which the embedding yields to."""
        self.config = config
        self.activity = activity
        self._warming: EmbeddingProvider | None = None
        self.on_progress = on_progress
        self.resolver = resolver
        self.user_ids = user_ids
        store_class = config.retrieval_store_class
        if store_class is None:
            from ...store.duckdb_store import DuckDBVectorStore

            store_class = DuckDBVectorStore
        self.embedder = self._make_embedder(config)
        self.store: VectorIndex = store_class(
            index_path(config.data_dir, config.root_dir), embedding_model=self.embedder.model_id
        )
        self.workspace = Workspace(
            config.root_dir,
            exclude=config.index_exclude,
            max_file_size=config.index_max_file_size,
            include_hidden=config.index_include_hidden,
        )
        self.splitter = self._make_splitter(config)
        self.indexer = Indexer(
            self.store,
            self.workspace,
            self.splitter,
            self.embedder,
            on_progress=self._progress,
            poll_interval=config.index_poll_interval,
            watch=config.index_workspace,
            activity=activity,
        )
        self._start_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._stopped = False
        self._started = False
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._timer: threading.Timer | None = None
        self._qcache: dict[tuple[str, str], Any] = {}

    # -- construction helpers ---------------------------------------------------------
    @staticmethod
    def _make_embedder(config: RetrievalConfig) -> EmbeddingProvider:
        return make_embedding_provider(
            config.embedding_engine,
            config.embedding_model,
            base_url=config.embedding_base_url,
            api_key=config.embedding_api_key,
            batch_size=config.embedding_batch_size,
        )

    def _make_splitter(self, config: RetrievalConfig) -> Splitter:
        limit = min(config.chunk_size, max(getattr(self.embedder, "max_tokens", 256) - 2, 16))
        return Splitter(limit, config.chunk_overlap, TokenCounter(self.embedder.tokenizer_file))

    def _progress(self, data: dict) -> None:
        if self.on_progress is not None:
            self.on_progress(data)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, delay: float | None = None) -> None:
        """Open the index and start watching the workspace in the background, after
        ``delay`` seconds (default ``config.index_start_delay``); returns at once."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        wait = self.config.index_start_delay if delay is None else delay
        self._timer = threading.Timer(max(wait, 0.0), self._open_once)
        self._timer.daemon = True
        self._timer.start()

    def _open(self) -> None:
        try:
            if not self.store.loaded:
                self.store.open()
            self._migrate_private_keys()
            self.indexer.start()  # without index_workspace it only embeds uploads/texts
            if self.store.has_vectors():  # queries will want the model: load it before them
                self.warm_embedder()
            freeze_long_lived()  # DuckDB and numpy, loaded for good
        except BaseException as e:
            self._open_error = e
            log.exception("oui: the retrieval index failed to open")
        finally:
            self._opened.set()

    def _migrate_private_keys(self) -> None:
        """Private collections stored before their keys escaped the user id are renamed."""
        if not isinstance(self.store, RenamesCollections) or self.user_ids is None:
            return
        user_ids = self.user_ids
        done = self.store.rename_collections_once(
            PRIVATE_KEYS_MARKER, lambda names: legacy_private_renames(names, user_ids())
        )
        if done:
            log.info("oui: %d private collections renamed to escaped keys", len(done))

    def ensure_started(self, timeout: float = 30.0) -> None:
        """Start now if not started, and wait until the index is open (blocking)."""
        if not self._started:
            self.start(delay=0)
        elif self._timer is not None and not self._opened.is_set():
            self._timer.cancel()
            if not self._opened.is_set():
                threading.Thread(target=self._open_once, daemon=True).start()
        if not self._opened.wait(timeout):
            raise NotReady("the retrieval index is still opening")
        if self._open_error is not None:
            raise NotReady(f"the retrieval index failed to open: {self._open_error}")

    def _open_once(self) -> None:
        with self._open_lock:
            if not self._opened.is_set() and not self._stopped:
                self._open()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        with self._open_lock:  # let an opening in progress finish first
            self._opened.set()
        self.indexer.stop()
        self.store.close()

    def notify_path(self, *paths: str) -> None:
        """Jupyter's contents events (save, rename, delete...): re-check these paths."""
        self.indexer.notify(*paths)

    # -- status / config ----------------------------------------------------------------
    def status(self) -> dict:
        p = self.indexer.progress()
        return {
            "ready": self.store.loaded,
            "state": "error" if self._open_error else p["state"],
            "error": str(self._open_error) if self._open_error else None,
            "root_dir": self.workspace.root,
            "index_path": self.store.path,
            "files": p["files_done"],
            "files_total": p["files_total"],
            "chunks": p["chunks_total"],
            "embedded": p["chunks_embedded"],
            "pending": p["chunks_total"] - p["chunks_embedded"],
            "skipped": p["skipped"],
            "embedding_engine": self.config.embedding_engine,
            "model": self.embedder.model_id,
            "model_loaded": self.embedder.ready,
            "embedding_error": p["embedding_error"],
            "retrievers": ["keyword"]
            + (["vector"] if self.embedder.ready and p["chunks_embedded"] else []),
        }

    def get_config(self) -> dict:
        out = {
            _API_NAME[f.name]: getattr(self.config, f.name)
            for f in fields(self.config)
            if f.name in _API_NAME
        }
        out["exclude"] = list(out["exclude"])
        if out.get("embedding_api_key"):
            out["embedding_api_key"] = "***"
        return out

    def update_config(self, changes: dict[str, Any]) -> dict:
        """Apply ``changes``; a new embedding model re-embeds in the background, new
        chunking or exclusions re-index the workspace."""
        if not changes:
            raise InvalidInput(f"nothing to update: name at least one of {', '.join(API_SETTINGS)}")
        bad = [k for k in changes if k not in API_SETTINGS]
        if bad:
            raise InvalidInput(f"unknown or read-only retrieval settings: {', '.join(sorted(bad))}")
        if changes.get("embedding_api_key") == "***":
            changes = {k: v for k, v in changes.items() if k != "embedding_api_key"}
        new = replace(self.config, **{API_SETTINGS[k]: v for k, v in changes.items()})
        if (
            new.chunk_size < 16
            or new.chunk_overlap < 0
            or new.rag_top_k < 1
            or new.index_max_file_size < 1
        ):
            raise InvalidInput(
                "chunk_size >= 16, chunk_overlap >= 0, top_k >= 1, max_file_size >= 1"
            )
        if new.hybrid_fusion not in FUSIONS or not 0.0 <= new.hybrid_alpha <= 1.0:
            raise InvalidInput(f"fusion is one of {', '.join(FUSIONS)}; 0 <= hybrid_alpha <= 1")
        if not (
            0.0 <= new.rag_relevance_threshold <= 1.0 and 0.0 <= new.rag_keyword_relevance <= 1.0
        ):
            raise InvalidInput("0 <= relevance_threshold <= 1; 0 <= keyword_relevance <= 1")
        old = self.config
        embed_keys = (
            "embedding_engine",
            "embedding_model",
            "embedding_base_url",
            "embedding_api_key",
            "embedding_batch_size",
        )
        if any(getattr(old, k) != getattr(new, k) for k in embed_keys):
            try:
                embedder = self._make_embedder(new)
            except ValueError as e:
                raise InvalidInput(str(e)) from None
            self.embedder = embedder
            self.indexer.embedder = embedder
            if self.store.loaded:
                self.store.set_embedding_model(embedder.model_id)
            else:
                self.store.embedding_model = embedder.model_id
            self.indexer.wake_embedding()
        self.config = new
        if (old.chunk_size, old.chunk_overlap) != (
            new.chunk_size,
            new.chunk_overlap,
        ) or old.embedding_model != new.embedding_model:
            self.splitter = self._make_splitter(new)
            self.indexer.splitter = self.splitter
            self.indexer.reindex_all()
        if (
            list(old.index_exclude) != list(new.index_exclude)
            or old.index_max_file_size != new.index_max_file_size
        ):
            self.workspace.set_exclude(new.index_exclude)
            self.workspace.max_file_size = new.index_max_file_size
            self.indexer.rescan()
        return self.get_config()

    # -- queries ------------------------------------------------------------------------
    def resolve_filter(
        self,
        collection_names: Sequence[str],
        user: UserInfo | None = None,
        filters: dict | None = None,
    ) -> SearchFilter:
        """Collections by name: ``workspace``, a knowledge collection id (via the resolver),
        ``file-<id>`` (one upload) or any collection made by ``process_text``."""
        collections: list[str] = []
        sources: list[str] = []
        for name in collection_names or [WORKSPACE]:
            sub = self.resolver(name, user) if self.resolver and name != WORKSPACE else None
            if sub is not None:
                collections.extend(sub.collections or [])
                sources.extend(sub.sources or [])
            else:
                collections.append(name)
        flt = SearchFilter(collections=collections, sources=sources)
        filters = filters or {}
        globs = filters.get("path") or filters.get("glob") or filters.get("globs")
        if globs:
            flt.globs = [globs] if isinstance(globs, str) else list(globs)
        ftypes = filters.get("file_type") or filters.get("file_types")
        if ftypes:
            flt.file_types = (
                [ftypes] if isinstance(ftypes, str) else [t.lstrip(".") for t in ftypes]
            )
        if not flt.sources:
            flt.sources = None
        return flt

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        flt: SearchFilter | None = None,
        mode: str | None = None,
    ) -> SearchResult:
        """Blocking search (run it in a thread)."""
        self.ensure_started()
        mode = mode or ("hybrid" if self.config.hybrid_search else "vector")
        if mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
        k = k or self.config.rag_top_k
        qvec = None
        if mode != "keyword":
            if not self.embedder.ready:
                self.warm_embedder()  # for the next turns; keyword answers this one
            elif self.store.has_vectors():
                qvec = self._query_vector(query)
        if mode == "vector" and qvec is None:
            mode = "keyword"  # the model is still loading: answer with what we have
        cfg = self.config
        return search(
            self.store,
            query,
            k,
            flt=flt,
            qvec=qvec,
            mode=mode,
            fusion=cfg.hybrid_fusion,
            alpha=cfg.hybrid_alpha,
            rrf_k=cfg.hybrid_rrf_k,
        )

    def warm_embedder(self) -> None:
        """Load the embedding model in the background once no chat turn runs: a turn never
        waits for it (nor shares the CPU with torch's import)."""
        embedder = self.embedder
        if embedder.ready or self._warming is embedder:
            return
        self._warming = embedder
        if self.activity is None:
            embedder.start_loading()
        else:
            self.activity.when_quiet(embedder.start_loading, name="oui-embeddings-warm")

    def _query_vector(self, query: str) -> Any:
        """The query's embedding; the last few are remembered (UIs repeat queries)."""
        key = (self.embedder.model_id, query)
        vec = self._qcache.get(key)
        if vec is None:
            vec = self.embedder.embed([query])[0]
            if len(self._qcache) >= 256:
                self._qcache.pop(next(iter(self._qcache)))
            self._qcache[key] = vec
        return vec

    def query(
        self,
        collection_names: Sequence[str],
        query: str,
        k: int | None = None,
        *,
        filters: dict | None = None,
        mode: str | None = None,
        user: UserInfo | None = None,
    ) -> dict:
        """Open WebUI's ``query/collection`` answer, plus ``retrievers``."""
        if not query or not query.strip():
            raise InvalidInput("query must not be empty")
        res = self.search(
            query, k=k, flt=self.resolve_filter(collection_names, user, filters), mode=mode
        )
        return {
            "documents": [[h.text for h in res.hits]],
            "metadatas": [[{**h.meta, "retrievers": h.retrievers} for h in res.hits]],
            "distances": [[round(h.score, 6) for h in res.hits]],
            "retrievers": res.retrievers,
        }

    # -- adding documents -----------------------------------------------------------------
    def process_text(
        self,
        collection: str,
        content: str,
        *,
        name: str | None = None,
        metadata: dict | None = None,
    ) -> dict:
        """Add (or replace) a text document named ``name`` in ``collection``."""
        if not content.strip():
            raise InvalidInput("content must not be empty")
        name = name or f"text-{hashlib.sha1(content.encode()).hexdigest()[:12]}"
        sections = [Section(content, {"start_line": 1, "end_line": content.count("\n") + 1})]
        return self._write_document(collection, name, content.encode(), sections, "text", metadata)

    def process_file(
        self,
        collection: str,
        data: bytes,
        filename: str,
        *,
        source: str | None = None,
        metadata: dict | None = None,
    ) -> dict:
        """Load, split and add one file's bytes to ``collection`` (raises InvalidInput when
        the file cannot be read as text)."""
        try:
            sections = load(data, filename)
        except Unsupported as e:
            raise InvalidInput(f"cannot index {filename}: {e}") from None
        return self._write_document(
            collection, source or filename, data, sections, file_type_of(filename), metadata
        )

    def _write_document(
        self,
        collection: str,
        source: str,
        data: bytes,
        sections: list[Section],
        file_type: str,
        metadata: dict | None,
    ) -> dict:
        self.ensure_started()
        chunks = self.splitter.split(sections)
        extra = dict(metadata or {})
        items = [
            ChunkIn(
                c.text,
                {
                    "source": source,
                    "file_type": file_type,
                    "collection": collection,
                    **extra,
                    **c.meta,
                },
            )
            for c in chunks
        ]
        rec = FileRecord(
            collection,
            source,
            len(data),
            time.time(),
            hashlib.sha256(data).hexdigest(),
            file_type,
            len(items),
        )
        self.store.write_files([(rec, items)])
        self.indexer.wake_embedding()
        return {
            "collection": collection,
            "source": source,
            "chunks": len(items),
            "file_type": file_type,
        }

    def delete_collection(self, collection: str) -> None:
        if collection == WORKSPACE:
            raise InvalidInput("the workspace collection cannot be deleted")
        self.ensure_started()
        self.store.delete_collection(collection)

    # -- RAG ---------------------------------------------------------------------------------
    @property
    def relevance_bar(self) -> RelevanceBar:
        return RelevanceBar(self.config.rag_relevance_threshold, self.config.rag_keyword_relevance)

    def relevant(
        self, hits: Sequence[Hit], query: str, exempt: Callable[[Hit], bool] | None = None
    ) -> list[Hit]:
        """The ``hits`` of ``query`` that clear the relevance bar (or are ``exempt``)."""
        bar = self.relevance_bar
        if bar.off:
            return list(hits)
        term_weights = getattr(self.store, "term_weights", None)  # optional for an engine
        weights = term_weights(query) if callable(term_weights) else None
        return bar.keep(hits, query, exempt, weights)

    def build_rag_context(
        self,
        query: str,
        files: Sequence[dict] | None = None,
        features: dict | None = None,
        budget: int | None = None,
        *,
        user: UserInfo | None = None,
        k: int | None = None,
        extra: Sequence[Hit] | None = None,
    ) -> tuple[str, list[dict]]:
        """``(prompt_block, sources)`` of :meth:`rag_context`."""
        ctx = self.rag_context(query, files, features, budget, user=user, k=k, extra=extra)
        return ctx.prompt, ctx.sources

    def rag_context(
        self,
        query: str,
        files: Sequence[dict] | None = None,
        features: dict | None = None,
        budget: int | None = None,
        *,
        user: UserInfo | None = None,
        k: int | None = None,
        extra: Sequence[Hit] | None = None,
    ) -> RagContext:
        """A chat turn's retrieval (empty when the turn names no retrieval source).
        ``files``: Open WebUI items (``{"type": "file"|"collection", "id"}``, or
        ``{"type": "path", "path": "nb.ipynb"}`` / a folder ``"dir/"`` in the workspace);
        ``features.workspace``: search the whole workspace, keeping only the hits that clear
        the relevance bar (what ``files`` names is kept whatever its scores).
        ``budget``: chars of source text. ``extra``: hits found elsewhere (a team client's
        workspace, already held to its bar), merged by score."""
        features = features or {}
        named = self._rag_filter(files or [], features, user)
        if (named is None and not extra) or not query.strip():
            return RagContext()
        hits: list[Hit] = []
        note = None
        if named is not None:
            flt, exempt = named
            hits = self.search(query, k=k or self.config.rag_top_k, flt=flt).hits
            if features.get("workspace"):
                hits = self.relevant(hits, query, exempt)
                if not any(h.meta.get("collection") == WORKSPACE for h in hits):
                    note = NO_MATCH_NOTE
        if extra:
            hits = sorted([*hits, *extra], key=lambda hit: -hit.score)
        prompt, sources = build_context(
            hits,
            query,
            template=self.config.rag_template,
            budget_chars=budget or self.config.rag_budget_chars,
        )
        return RagContext(prompt, sources, note)

    def _rag_filter(
        self, files: Sequence[dict], features: dict, user: UserInfo | None
    ) -> tuple[SearchFilter, Callable[[Hit], bool]] | None:
        """The turn's search filter, and which hits the turn named (``files``: exempt from
        the relevance bar)."""
        names: list[str] = []
        sources: list[str] = []
        globs: list[str] = []
        for item in files:
            if not isinstance(item, dict):
                continue
            kind = item.get("type", "file")
            if kind == "collection" and item.get("id"):
                names.append(str(item["id"]))
            elif kind == "file" and item.get("id"):
                names.append(f"file-{item['id']}")
            elif item.get("path"):
                path = str(item["path"]).lstrip("/")
                if path.endswith("/") or kind == "directory":
                    globs.append(path.rstrip("/") + "/*")
                    names.append(WORKSPACE)
                else:
                    sources.append(path)
        if features.get("workspace"):
            names.append(WORKSPACE)
        if not names and not sources:
            return None
        flt = self.resolve_filter(names, user) if names else SearchFilter(collections=[])
        if sources:
            flt.sources = (flt.sources or []) + sources
        if globs and not features.get("workspace"):
            # folders only: restrict the workspace part to them (other collections stay)
            flt.globs = globs
        named_sources = set(flt.sources or [])

        def exempt(hit: Hit) -> bool:
            source = str(hit.meta.get("source", ""))
            return (
                hit.meta.get("collection") != WORKSPACE
                or source in named_sources
                or any(fnmatch.fnmatchcase(source, g) for g in globs)
            )

        return flt, exempt

    # -- used by benchmarks/tests ---------------------------------------------------------------
    def hits(
        self,
        query: str,
        k: int = 5,
        collection_names: Sequence[str] = (WORKSPACE,),
        mode: str | None = None,
    ) -> list[Hit]:
        return self.search(
            query, k=k, flt=self.resolve_filter(list(collection_names)), mode=mode
        ).hits
