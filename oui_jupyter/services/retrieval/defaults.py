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
    # test fixtures: made-up notes and code that would outrank the user's own files
    # (set ``c.OuiJupyter.index_exclude`` without these to index them)
    "tests/",
    "fixtures/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
)

#: the relevance bar of a turn's workspace hits (services/retrieval/relevance.py), chosen on
#: the calibration half of benchmarks/retrieval_relevance.py's question set
DEFAULT_MIN_RELEVANCE = 0.47
DEFAULT_MIN_COVERAGE = 0.44

# A compact form of Open WebUI's default RAG template: the embedded model has a small
# context window, so the instructions are short. {{CONTEXT}} and {{QUERY}} are replaced.
DEFAULT_RAG_TEMPLATE = """### Task:
Answer the user query using the context below. Cite a source as [id] right after the sentence that uses it, only with the id of a <source> tag. If the context does not help, answer from your own knowledge and say so.

<context>
{{CONTEXT}}
</context>

<user_query>
{{QUERY}}
</user_query>"""
