"""The OpenAI-compatible embeddings engine against a real local HTTP endpoint, and a model
switch that re-embeds the index in the background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.embeddings_endpoint import EmbeddingsEndpoint, embeddings_endpoint

from oui_jupyter.errors import ProviderError
from oui_jupyter.providers.embeddings import OpenAIEmbeddings
from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
from retrieval.helpers import HashEmbedder


@pytest.fixture
def endpoint():
    with embeddings_endpoint() as url:
        yield url


def test_openai_engine_batches_orders_and_normalises(endpoint):
    emb = OpenAIEmbeddings("fake-embed", base_url=endpoint, batch_size=2)
    vecs = emb.embed(["alpha beta", "gamma", "delta epsilon"])
    assert vecs.shape == (3, 16)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    assert np.allclose(vecs[1], HashEmbedder(16).embed(["gamma"])[0], atol=1e-6)  # order kept
    assert [len(r["input"]) for r in EmbeddingsEndpoint.requests] == [2, 1]


def test_openai_engine_errors_are_provider_errors(endpoint):
    EmbeddingsEndpoint.fail = True
    with pytest.raises(ProviderError):
        OpenAIEmbeddings("fake-embed", base_url=endpoint).embed(["x"])


def test_switching_model_reembeds_in_background(ws_root: Path, tmp_path: Path, endpoint):
    svc = RetrievalService(
        RetrievalConfig(
            root_dir=str(ws_root),
            data_dir=str(tmp_path / "d"),
            index_start_delay=0,
            index_poll_interval=0,
        )
    )
    first = HashEmbedder()
    svc.embedder = svc.indexer.embedder = first
    svc.store.embedding_model = first.model_id
    try:
        svc.start()
        svc.ensure_started()
        assert svc.indexer.wait_idle(30, embedded=True)
        n = svc.status()["chunks"]
        svc.update_config(
            {
                "embedding_engine": "openai",
                "embedding_model": "fake-embed",
                "embedding_base_url": endpoint,
            }
        )
        assert svc.status()["model"] == f"openai:{endpoint}:fake-embed"
        assert svc.indexer.wait_idle(30, embedded=True)
        st = svc.status()
        assert st["embedded"] == st["chunks"] == n and st["pending"] == 0
        assert (
            sum(len(r["input"]) for r in EmbeddingsEndpoint.requests) >= n - 1
        )  # everything re-embedded
        assert svc.store.stats()["dim"] == 16
        res = svc.query(["workspace"], "hydraulic pressure sensor dome", 3, mode="vector")
        assert (
            res["retrievers"] == ["vector"] and res["metadatas"][0][0]["source"] == "docs/README.md"
        )
    finally:
        svc.stop()
