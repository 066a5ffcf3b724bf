"""What the app imports at start from retrieval must not pull anything heavy."""

from __future__ import annotations

from support.imports import modules_after, run_and_report

HEAVY = [
    "sqlalchemy",
    "openai",
    "torch",
    "sentence_transformers",
    "duckdb",
    "numpy",
    "pypdf",
    "pathspec",
    "tokenizers",
]


def test_retrieval_modules_import_light():
    loaded = modules_after(
        "import oui_jupyter.handlers.retrieval, oui_jupyter.handlers.knowledge\n"
        "import oui_jupyter.handlers.files, oui_jupyter.schemas.retrieval\n"
        "import oui_jupyter.services.retrieval.rag, oui_jupyter.services.retrieval.workspace\n"
        "import oui_jupyter.services.retrieval.service, oui_jupyter.services.retrieval.build\n"
        "from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService\n"
    )
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_service_construction_is_cheap(tmp_path):
    """Building the service (in the app's init thread) opens nothing, starts no thread and
    loads no model: all of that waits for the first use."""
    code = (
        "import sys, json, threading\n"
        "from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService\n"
        f"svc = RetrievalService(RetrievalConfig(root_dir={str(tmp_path)!r}, data_dir={str(tmp_path / 'd')!r}))\n"
        "print(json.dumps([[svc.store.loaded, svc.embedder.ready, threading.active_count()],"
        " sorted(sys.modules)]))\n"
    )
    (store_open, model_loaded, threads), loaded = run_and_report(code)
    assert (
        "torch" not in loaded and "sentence_transformers" not in loaded and "duckdb" not in loaded
    )
    assert store_open is False and model_loaded is False and threads == 1
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").rglob("*.duckdb"))
