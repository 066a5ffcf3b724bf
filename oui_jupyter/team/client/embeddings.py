"""The workspace index's embeddings on a team client server: the service's
``oui/api/embeddings`` (the team's one embedding model) over plain httpx.

The same requests as ``providers.embeddings.OpenAIEmbeddings`` (and the same ``model_id``, so
an index stays valid), without loading the ``openai`` package (~30 MB of a user server).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import ProviderError, ProviderTimeout
from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import httpx
    import numpy as np

    from oui_jupyter.providers.embeddings import EmbeddingProvider


class TeamEmbeddings:
    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        token: str,
        batch_size: int = 32,
        timeout: float = 60.0,
        max_tokens: int = 256,  # the team's default model (all-MiniLM-L6-v2) reads 256
    ) -> None:
        self.model_name = model
        self.model_id = f"openai:{base_url.rstrip('/')}:{model}"
        self.url = f"{base_url.rstrip('/')}/embeddings"
        self.token = token
        self.batch_size = max(batch_size, 1)
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._http: httpx.Client | None = None

    tokenizer_file: str | None = None
    ready = True
    error: str | None = None

    def start_loading(self) -> None:
        return None

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            # a service that does not answer is known at once: searches fall back to keywords
            timeout = httpx.Timeout(self.timeout, connect=5.0)
            self._http = httpx.Client(timeout=timeout, trust_env=False)
        return self._http

    def _batch(self, texts: list[str]) -> list[list[float]]:
        import httpx

        try:
            response = self._client().post(
                self.url,
                json={"model": self.model_name, "input": texts},
                headers={"Authorization": f"token {self.token}"},
            )
        except httpx.TimeoutException as e:
            raise ProviderTimeout(f"the team service's embeddings timed out: {e}") from e
        except httpx.TransportError as e:
            raise ProviderError(f"the team service's embeddings are unreachable: {e}") from e
        if response.status_code != 200:
            raise ProviderError(
                f"the team service's embeddings failed ({response.status_code}): "
                f"{response.text[:300]}"
            )
        data: list[dict[str, Any]] = sorted(response.json()["data"], key=lambda d: d["index"])
        return [d["embedding"] for d in data]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        from oui_jupyter.providers.embeddings import _normalise

        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            rows.extend(self._batch(list(texts[i : i + self.batch_size])))
        if not rows:
            return np.zeros((0, 0), np.float32)
        return _normalise(np.asarray(rows, dtype=np.float32))


class TeamClientRetrieval(RetrievalService):
    """The workspace index of a team client: embeddings from the team service. While the
    service is away a query is not embedded: the search is by keywords (BM25) alone."""

    def _query_vector(self, query: str) -> Any:
        try:
            return super()._query_vector(query)
        except ProviderError as error:  # ProviderTimeout too
            log.warning("oui: workspace search by keywords only: %s", error.message)
            return None

    @staticmethod
    def _make_embedder(config: RetrievalConfig) -> EmbeddingProvider:
        return TeamEmbeddings(
            config.embedding_model,
            base_url=config.embedding_base_url,
            token=config.embedding_api_key,
            batch_size=config.embedding_batch_size,
        )
