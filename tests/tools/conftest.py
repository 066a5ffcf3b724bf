from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from oui_jupyter.services.users import UserInfo
from oui_jupyter.tools.base import ToolContext, ToolLimits
from oui_jupyter.tools.builtin import builtin_tools
from oui_jupyter.tools.registry import ToolRegistry

ALICE = UserInfo("alice", "alice", "Alice", "user", ("staff",))
ADMIN = UserInfo("root", "root", "Root", "admin", ())


def write_notebook(path: Path) -> None:
    cells = [
        {
            "cell_type": "markdown",
            "id": "intro",
            "metadata": {},
            "source": ["# Penguins\n", "Notes"],
        },
        {
            "cell_type": "code",
            "id": "load",
            "metadata": {},
            "execution_count": 1,
            "source": "import pandas as pd\ndf = pd.read_csv('data/sales.csv')",
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["x" * 5000]},
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                },
            ],
        },
        {
            "cell_type": "code",
            "id": "boom",
            "metadata": {},
            "execution_count": 2,
            "source": "1/0",
            "outputs": [
                {
                    "output_type": "error",
                    "ename": "ZeroDivisionError",
                    "evalue": "division by zero",
                    "traceback": ["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"],
                },
            ],
        },
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.csv").write_text("k,v\nsecret,1\n")
    (out / "secret.txt").write_text("top secret\n")
    return out


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    """A workspace with data files, a notebook, hidden files and symlinks in and out."""
    r = tmp_path / "root"
    (r / "data").mkdir(parents=True)
    (r / "src" / "deep").mkdir(parents=True)
    (r / ".hidden").mkdir()
    (r / "data" / "sales.csv").write_text("region,amount\nnorth,10\nsouth,5\nnorth,7\neast,1\n")
    (r / "data" / "events.jsonl").write_text('{"kind":"a","n":1}\n{"kind":"b","n":2}\n')
    (r / "notes.md").write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    (r / "src" / "app.py").write_text("print('hi')\n")
    (r / "src" / "deep" / "util.py").write_text("X = 1\n")
    (r / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (r / ".env").write_text("TOKEN=abc\n")
    (r / ".secret.csv").write_text("k,v\nhidden,1\n")
    (r / ".hidden" / "x.csv").write_text("k,v\nhidden,2\n")
    write_notebook(r / "analysis.ipynb")
    os.symlink(outside / "secret.csv", r / "data" / "out.csv")
    os.symlink(outside / "secret.txt", r / "out.txt")
    os.symlink(outside, r / "outdir")
    os.symlink(r / "data" / "sales.csv", r / "data" / "alias.csv")
    os.symlink(r / ".hidden" / "x.csv", r / "data" / "to_hidden.csv")
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT range % 3 AS g, range AS v FROM range(100)) "
        f"TO '{r / 'data' / 'nums.parquet'}' (FORMAT parquet)"
    )
    con.close()
    return r


@pytest.fixture
def limits() -> ToolLimits:
    return ToolLimits(sql_timeout=10.0)


@pytest.fixture
def registry(limits: ToolLimits) -> ToolRegistry:
    return ToolRegistry(builtin_tools(None, limits), entry_points=False)


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    return ToolContext(user=ALICE, root_dir=str(root), chat_id="chat-1")
