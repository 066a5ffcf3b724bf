"""What the app imports at start from retrieval must not pull anything heavy."""
from __future__ import annotations

from support.imports import modules_after, run_and_report

HEAVY = ["sqlalchemy", "openai", "torch", "sentence_transformers", "duckdb", "numpy", "pypdf",
         "pathspec", "tokenizers"]


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
    """Building the service (in the app's init thread) opens nothing and loads no model."""
    code = (
        "import sys, json, time\n"
        "t = time.perf_counter()\n"
        "from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService\n"
        f"svc = RetrievalService(RetrievalConfig(root_dir={str(tmp_path)!r}, data_dir={str(tmp_path / 'd')!r}))\n"
        "print(json.dumps([time.perf_counter() - t, sorted(sys.modules)]))\n"
    )
    seconds, loaded = run_and_report(code)
    assert "torch" not in loaded and "sentence_transformers" not in loaded and "duckdb" not in loaded
    assert seconds < 2.0
