"""Loading the server extension must not import anything heavy (start-up time is sacred)."""

from __future__ import annotations

from support.imports import modules_after

HEAVY = [
    "sqlalchemy",
    "alembic",
    "openai",
    "torch",
    "sentence_transformers",
    "duckdb",
    "numpy",
    "llama_cpp",
    "pypdf",
    "httpx",
    "psycopg",
    "ipywidgets",
    "mcp",
    "mcp_types",
    "starlette",
]


def test_extension_load_path_imports_nothing_heavy():
    loaded = modules_after(
        "import oui_jupyter\n"
        "points = oui_jupyter._jupyter_server_extension_points()\n"
        "app = points[0]['app']()\n"
        "app.initialize_handlers()\n"
    )
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert heavy == [], f"imported at extension load: {heavy}"
