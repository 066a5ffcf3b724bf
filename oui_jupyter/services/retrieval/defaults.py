"""Defaults the app's traitlets show (light: read while the server starts)."""

from __future__ import annotations

#: never indexed, besides .gitignore'd and hidden files (gitignore syntax)
DEFAULT_EXCLUDE = (
    ".git/",
    "node_modules/",
    ".venv/",
    "venv/",
    "env/",
    "__pycache__/",
    ".ipynb_checkpoints/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    "dist/",
    "build/",
    "site-packages/",
    "*.pyc",
    "*.pyo",
    "*.so",
    "*.egg-info/",
    ".DS_Store",
)
