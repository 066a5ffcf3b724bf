"""read_file, read_notebook and list_files: what they answer, and what they refuse."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from oui_jupyter.tools.base import ToolContext, ToolError, ToolResult
from oui_jupyter.tools.paths import glob_regex
from oui_jupyter.tools.registry import ToolRegistry


def call(registry: ToolRegistry, ctx: ToolContext, name: str, args: Any) -> ToolResult:
    return asyncio.run(registry.run(name, args, ctx))


def refused(registry: ToolRegistry, ctx: ToolContext, name: str, args: Any) -> str:
    with pytest.raises(ToolError) as info:
        call(registry, ctx, name, args)
    return info.value.message


# ----- refusals, the same for every file tool -----
REFUSALS = [
    ("../outside/secret.txt", "'..' is refused"),
    ("data/../../outside/secret.txt", "'..' is refused"),
    ("/etc/passwd", "absolute paths are refused"),
    ("C:/Windows/win.ini", "absolute paths are refused"),
    ("~/x.txt", "absolute paths are refused"),
    (".env", "hidden files and folders are refused"),
    (".hidden/x.csv", "hidden files and folders are refused"),
    ("out.txt", "leads outside the workspace"),
    ("outdir/secret.txt", "leads outside the workspace"),
    ("data/to_hidden.csv", "leads to a hidden file"),
    ("missing.txt", "no such file"),
    ("src", "is a folder"),
]


@pytest.mark.parametrize(("path", "why"), REFUSALS)
def test_read_file_refuses(registry, ctx, path, why):
    assert why in refused(registry, ctx, "read_file", {"path": path})


@pytest.mark.parametrize(("path", "why"), REFUSALS[:10])
def test_read_notebook_refuses(registry, ctx, path, why):
    assert why in refused(registry, ctx, "read_notebook", {"path": path})


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("../*", "'..' is refused"),
        ("/etc/*", "absolute paths are refused"),
        (".hidden/*", "hidden files and folders are refused"),
        ("**/.env", "hidden files and folders are refused"),
        ("outdir/*", "leads outside the workspace"),
    ],
)
def test_list_files_refuses(registry, ctx, pattern, why):
    assert why in refused(registry, ctx, "list_files", {"pattern": pattern})


# ----- read_file -----
def test_read_file_line_range(registry, ctx):
    result = call(
        registry, ctx, "read_file", {"path": "notes.md", "start_line": 10, "end_line": 12}
    )
    assert result.data["text"] == "line 10\nline 11\nline 12"
    assert result.data["total_lines"] == 1000 and result.data["truncated"]
    assert result.content.splitlines()[0] == "notes.md, lines 10-12 of 1000"
    assert result.content.splitlines()[1].split("\t") == ["    10", "line 10"]


def test_read_file_is_capped_and_follows_links_inside(registry, ctx, limits):
    result = call(registry, ctx, "read_file", {"path": "notes.md"})
    assert result.data["end_line"] == limits.max_lines
    alias = call(registry, ctx, "read_file", {"path": "./data//alias.csv"})
    assert alias.data["path"] == "data/alias.csv" and alias.data["text"].startswith("region")


def test_read_file_refuses_binary_and_past_the_end(registry, ctx):
    assert "binary" in refused(registry, ctx, "read_file", {"path": "blob.bin"})
    assert "past the end" in refused(
        registry, ctx, "read_file", {"path": "src/app.py", "start_line": 5}
    )
    assert "before start_line" in refused(
        registry, ctx, "read_file", {"path": "notes.md", "start_line": 5, "end_line": 2}
    )


# ----- read_notebook -----
def test_read_notebook_by_index_and_id(registry, ctx):
    result = call(registry, ctx, "read_notebook", {"path": "analysis.ipynb", "cells": [2, "intro"]})
    cells = result.data["cells"]
    assert [c["index"] for c in cells] == [2, 0]
    assert cells[0]["outputs"] == [
        {
            "type": "error",
            "ename": "ZeroDivisionError",
            "evalue": "division by zero",
            "traceback": "ZeroDivisionError: division by zero",
        }
    ]
    assert cells[1]["source"] == "# Penguins\nNotes" and "outputs" not in cells[1]
    assert result.data["cell_count"] == 3


def test_read_notebook_trims_outputs(registry, ctx):
    result = call(registry, ctx, "read_notebook", {"path": "analysis.ipynb", "cells": ["load"]})
    stream, figure = result.data["cells"][0]["outputs"]
    assert len(stream["text"]) < 2100 and "[cut at 2000 characters]" in stream["text"]
    assert figure == {
        "type": "display_data",
        "mime_types": ["image/png", "text/plain"],
        "text": "<Figure>",
    }
    assert "iVBOR" not in result.content
    bare = call(
        registry, ctx, "read_notebook", {"path": "analysis.ipynb", "include_outputs": False}
    )
    assert all("outputs" not in c for c in bare.data["cells"])


def test_read_notebook_unknown_cells_and_non_notebooks(registry, ctx):
    assert "no cell 7" in refused(
        registry, ctx, "read_notebook", {"path": "analysis.ipynb", "cells": [7]}
    )
    assert "no cell with id 'nope'" in refused(
        registry, ctx, "read_notebook", {"path": "analysis.ipynb", "cells": ["nope"]}
    )
    assert "not a notebook" in refused(registry, ctx, "read_notebook", {"path": "notes.md"})


# ----- list_files -----
def paths(result: ToolResult) -> list[str]:
    return [e["path"] for e in result.data["entries"]]


def test_list_files_globs(registry, ctx):
    top = paths(call(registry, ctx, "list_files", {}))
    assert top == ["analysis.ipynb", "blob.bin", "data", "notes.md", "src"]
    assert paths(call(registry, ctx, "list_files", {"pattern": "**/*.py"})) == [
        "src/app.py",
        "src/deep/util.py",
    ]
    data = paths(call(registry, ctx, "list_files", {"pattern": "data/*.csv"}))
    assert data == ["data/alias.csv", "data/sales.csv"]  # links out or to hidden files: never
    assert paths(call(registry, ctx, "list_files", {"pattern": "src"})) == ["src"]


def test_list_files_limit(registry, ctx):
    result = call(registry, ctx, "list_files", {"pattern": "**", "limit": 2})
    assert len(result.data["entries"]) == 2 and result.data["truncated"]
    assert "more entries not shown" in result.content


def test_links_out_are_not_listed(registry, ctx):
    everything = paths(call(registry, ctx, "list_files", {"pattern": "**"}))
    assert "out.txt" not in everything and "data/out.csv" not in everything
    assert not any(p.startswith("outdir") or "/." in p or p.startswith(".") for p in everything)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "src/deep/a.py", True),
        ("src/**", "src/deep/a.py", True),
        ("data/?.csv", "data/a.csv", True),
        ("data/[ab].csv", "data/c.csv", False),
        ("data/[!ab].csv", "data/c.csv", True),
    ],
)
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(path)) is matches
