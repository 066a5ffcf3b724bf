from __future__ import annotations

import itertools

from oui_jupyter.providers.embeddings import bundled_model_path
from oui_jupyter.services.retrieval.loaders import Section, load
from oui_jupyter.services.retrieval.splitter import Splitter, TokenCounter
from retrieval.helpers import notebook


def counter() -> TokenCounter:
    tc = TokenCounter(bundled_model_path() + "/tokenizer.json")
    assert tc.exact
    return tc


def test_chunks_fit_the_model_and_lines_map_back():
    tc = counter()
    lines = [
        f"line {i}: the quick brown fox jumps over the lazy dog number {i}" for i in range(1, 201)
    ]
    text = "\n".join(lines)
    chunks = Splitter(64, 16, tc).split([Section(text, {"start_line": 1, "end_line": 200})])
    assert len(chunks) > 5
    assert max(tc.count([c.text for c in chunks])) <= 64
    for c in chunks:
        first, last = c.text.split("\n")[0], c.text.split("\n")[-1]
        assert first == lines[c.meta["start_line"] - 1]
        assert last == lines[c.meta["end_line"] - 1]
    # consecutive chunks overlap by a line or more
    assert all(b.meta["start_line"] <= a.meta["end_line"] for a, b in itertools.pairwise(chunks))


def test_overlap_zero_means_disjoint():
    lines = "\n".join(f"row {i} alpha beta gamma" for i in range(100))
    chunks = Splitter(40, 0, counter()).split([Section(lines, {"start_line": 1, "end_line": 100})])
    assert all(
        b.meta["start_line"] == a.meta["end_line"] + 1 for a, b in itertools.pairwise(chunks)
    )


def test_huge_single_line_is_cut():
    tc = counter()
    chunks = Splitter(50, 5, tc).split([Section("word " * 1000, {"start_line": 7, "end_line": 7})])
    assert len(chunks) >= 20
    assert max(tc.count([c.text for c in chunks])) <= 50
    assert all(c.meta["start_line"] == 7 for c in chunks)


def test_small_sections_merge_within_a_cell_only():
    nb = notebook([{"source": "a = 1"}, {"source": "b = 2"}])
    chunks = Splitter(240, 32, counter()).split(load(nb.encode(), "n.ipynb"))
    assert [c.meta["cell"] for c in chunks] == [0, 1]
    code = "x = 1\n\ny = 2\n\ndef f():\n    return 1\n\nz = 3\n"
    chunks = Splitter(240, 32, counter()).split(load(code.encode(), "m.py"))
    assert any(c.meta.get("symbol") == "f" and c.text.startswith("def f") for c in chunks)
