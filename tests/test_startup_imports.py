"""Loading the server extension must not import anything heavy (start-up time is sacred)."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["sqlalchemy", "alembic", "openai", "torch", "sentence_transformers", "duckdb",
         "numpy", "llama_cpp", "pypdf", "httpx", "psycopg", "ipywidgets"]


def test_extension_load_path_imports_nothing_heavy():
    code = (
        "import sys, json\n"
        "import oui_jupyter\n"
        "points = oui_jupyter._jupyter_server_extension_points()\n"
        "app = points[0]['app']()\n"
        "app.initialize_handlers()\n"
        "print(json.dumps(sorted(m for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert heavy == [], f"imported at extension load: {heavy}"
