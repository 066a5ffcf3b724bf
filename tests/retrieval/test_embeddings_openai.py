"""The OpenAI-compatible embeddings engine against a real local HTTP endpoint, and a model
switch that re-embeds the index in the background."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from oui_jupyter.errors import ProviderError
from oui_jupyter.providers.embeddings import OpenAIEmbeddings
from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
from retrieval.helpers import HashEmbedder


class _Endpoint(BaseHTTPRequestHandler):
    embedder = HashEmbedder(dim=16)
    fail = False
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if self.path != "/v1/embeddings" or type(self).fail:
            self.send_response(500)
            self.end_headers()
            return
        vecs = self.embedder.embed(body["input"]) * 3.0  # not normalised: the client must do it
        data = [
            {"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)
        ]
        out = json.dumps(
            {
                "object": "list",
                "data": data[::-1],
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    _Endpoint.fail = False
    _Endpoint.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_engine_batches_orders_and_normalises(endpoint):
    emb = OpenAIEmbeddings("fake-embed", base_url=endpoint, batch_size=2)
    vecs = emb.embed(["alpha beta", "gamma", "delta epsilon"])
    assert vecs.shape == (3, 16)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    assert np.allclose(vecs[1], HashEmbedder(16).embed(["gamma"])[0], atol=1e-6)  # order kept
    assert [len(r["input"]) for r in _Endpoint.requests] == [2, 1]


def test_openai_engine_errors_are_provider_errors(endpoint):
    _Endpoint.fail = True
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
        assert sum(len(r["input"]) for r in _Endpoint.requests) >= n - 1  # everything re-embedded
        assert svc.store.stats()["dim"] == 16
        res = svc.query(["workspace"], "hydraulic pressure sensor dome", 3, mode="vector")
        assert (
            res["retrievers"] == ["vector"] and res["metadatas"][0][0]["source"] == "docs/README.md"
        )
    finally:
        svc.stop()
