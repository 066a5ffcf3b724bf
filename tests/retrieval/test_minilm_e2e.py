"""End to end with the real all-MiniLM-L6-v2 model (loaded once per session)."""

from __future__ import annotations

from pathlib import Path

from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService


def test_real_model_indexes_and_finds_the_cell(ws_root: Path, tmp_path: Path, minilm):
    cfg = RetrievalConfig(
        root_dir=str(ws_root),
        data_dir=str(tmp_path / "d"),
        index_start_delay=0,
        index_poll_interval=0,
    )
    svc = RetrievalService(cfg)
    assert svc.embedder.model_id == minilm.model_id
    svc.embedder = svc.indexer.embedder = minilm  # share the loaded model
    try:
        svc.start()
        svc.ensure_started()
        assert svc.indexer.wait_idle(120, embedded=True)
        st = svc.status()
        assert st["pending"] == 0 and st["model"] == "sentence-transformers/all-MiniLM-L6-v2"
        assert svc.store.stats()["dim"] == 384
        # a paraphrase with no shared keywords: only the vector retriever can find it
        res = svc.query(
            ["workspace"], "which seabird can swim to the greatest depth?", 3, mode="vector"
        )
        top = res["metadatas"][0][0]
        assert res["retrievers"] == ["vector"]
        assert top["source"] == "analysis.ipynb" and top["cell_id"] == "emperor-cell"
        res = svc.query(["workspace"], "emperor penguin diving depth", 3)
        assert res["metadatas"][0][0]["cell_id"] == "emperor-cell"
        assert set(res["retrievers"]) == {"keyword", "vector"}
        prompt, sources = svc.build_rag_context(
            "How deep do emperor penguins dive?", [], {"workspace": True}
        )
        assert '<source id="1"' in prompt and "emperor penguin" in prompt
        assert sources[0]["path"] == "analysis.ipynb" and sources[0]["cell"] == 3
        assert sources[0]["cell_id"] == "emperor-cell" and sources[0]["id"] == 1
    finally:
        svc.stop()
