"""Test fixtures are not indexed by default (their made-up notes outranked the user's own
files), and ``c.OuiJupyter.index_exclude`` without the fixture patterns indexes them again."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from oui_jupyter.app import OuiJupyter
from oui_jupyter.services.retrieval.defaults import DEFAULT_EXCLUDE
from oui_jupyter.services.retrieval.workspace import Workspace

FIXTURE_PATTERNS = {"tests/", "fixtures/", "test_*.py", "*_test.py", "conftest.py"}
FIXTURES = [
    "tests/notes.md",
    "pkg/tests/data/aurora.md",
    "pkg/fixtures/sample.txt",
    "test_x.py",
    "src/test_reverse.py",
    "src/reverse_test.py",
    "src/conftest.py",
]
OWN = ["notes.md", "src/reverse.py", "src/testing_utils.py", "latest_results.py", "contest.py"]


def make_workspace(root: Path) -> None:
    for rel in FIXTURES + OWN:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {rel}\n")


def walked(ws: Workspace) -> set[str]:
    return {fs.rel for fs in ws.walk()}


def test_fixtures_are_skipped_by_default(tmp_path: Path):
    make_workspace(tmp_path)
    ws = Workspace(str(tmp_path))
    assert walked(ws) == set(OWN)
    assert ws.is_excluded("tests/notes.md") and ws.is_excluded("test_x.py")
    assert not ws.is_excluded("src/testing_utils.py")


def test_fixtures_are_indexed_when_the_exclude_list_leaves_them_out(tmp_path: Path):
    make_workspace(tmp_path)
    kept = [p for p in DEFAULT_EXCLUDE if p not in FIXTURE_PATTERNS]
    assert len(kept) == len(DEFAULT_EXCLUDE) - len(FIXTURE_PATTERNS)
    assert walked(Workspace(str(tmp_path), exclude=kept)) == set(FIXTURES + OWN)


def test_the_traitlet_defaults_to_skipping_fixtures_and_can_reenable_them():
    assert FIXTURE_PATTERNS <= set(OuiJupyter().index_exclude)
    config = Config()
    config.OuiJupyter.index_exclude = ["node_modules/"]
    assert OuiJupyter(config=config).index_exclude == ["node_modules/"]
