from __future__ import annotations

from oui_jupyter.services.retrieval.rag import build_context, location
from oui_jupyter.store.vector_store import Hit


def hit(text, **meta):
    return Hit(0, text, {"collection": "workspace", **meta}, 0.5, ["keyword"])


def test_numbered_sources_and_sources_list():
    hits = [
        hit("alpha text", source="a.ipynb", cell=2, cell_id="x", start_line=1, end_line=3),
        hit("beta text", source="b.pdf", page=4, start_line=1, end_line=9),
    ]
    prompt, sources = build_context(hits, "what is alpha?")
    assert '<source id="1" name="a.ipynb, cell 2, lines 1-3">\nalpha text\n</source>' in prompt
    assert '<source id="2" name="b.pdf, page 4">' in prompt
    assert "what is alpha?" in prompt and "{{" not in prompt
    assert [s["id"] for s in sources] == [1, 2]
    assert sources[0]["cell_id"] == "x" and sources[1]["page"] == 4
    assert sources[0]["source"]["name"] == "a.ipynb" and sources[0]["document"] == ["alpha text"]


def test_budget_cuts_and_drops():
    hits = [
        hit("word " * 400, source="a.txt", start_line=1, end_line=1),
        hit("other " * 400, source="b.txt", start_line=1, end_line=1),
    ]
    prompt, sources = build_context(hits, "q", budget_chars=1000)
    assert (
        len(sources) == 1 and len(prompt) < 1800 and sources[0]["snippet"].endswith("...") is False
    )
    prompt, sources = build_context(hits, "q", budget_chars=2500)
    assert len(sources) == 2 and "other" in prompt


def test_no_hits_no_prompt():
    assert build_context([], "q") == ("", [])


def test_location_forms():
    assert location({"source": "x.py", "start_line": 3, "end_line": 3}) == "x.py, line 3"
    assert location({"source": "n.ipynb", "cell": 1, "output": True}) == "n.ipynb, cell 1 output"


def test_fusions():
    from oui_jupyter.services.retrieval.search import relative_fuse, rrf_fuse

    fused = rrf_fuse({"keyword": [1, 2, 3], "vector": [3, 4]})
    assert fused[0][0] == 3 and fused[0][2] == ["keyword", "vector"]
    raw = {"keyword": {1: 10.0, 2: 9.9, 3: 1.0}, "vector": {3: 0.9, 4: 0.1}}
    fused = relative_fuse(raw, {"keyword": 0.5, "vector": 0.5})
    # 1 is far ahead in BM25; 3 is last there but first in vectors: both 0.5
    assert [p for p, _, _ in fused][:2] == [1, 3]
    assert fused[0][1] == 0.5 and fused[-1][1] == 0.0
    only_vec = relative_fuse(raw, {"keyword": 0.0, "vector": 1.0})
    assert only_vec[0][0] == 3
