from __future__ import annotations

import pytest

from oui_jupyter.services.retrieval import loaders
from oui_jupyter.services.retrieval.loaders import Unsupported, load
from retrieval.helpers import CODE, MARKDOWN, notebook, pdf


def test_notebook_cells_with_ids_and_text_outputs():
    nb = notebook(
        [
            {"type": "markdown", "source": "# Title\nIntro", "id": "md1"},
            {"source": "x = 1\nx + 41", "result": "42", "id": "code1"},
            {"source": "print('hi')", "stdout": "hi\n", "id": "code2"},
        ]
    )
    secs = load(nb.encode(), "a.ipynb")
    by_cell = {}
    for s in secs:
        by_cell.setdefault(s.meta["cell"], []).append(s)
    assert [s.meta["cell_id"] for s in secs if not s.meta.get("output")] == [
        "md1",
        "code1",
        "code2",
    ]
    assert by_cell[0][0].meta["cell_type"] == "markdown"
    out = [s for s in by_cell[1] if s.meta.get("output")]
    assert out and out[0].text == "42" and "iVBOR" not in out[0].text  # text/plain only
    assert by_cell[1][0].meta["start_line"] == 1 and by_cell[1][0].meta["end_line"] == 2
    assert [s.text for s in by_cell[2] if s.meta.get("output")] == ["hi"]


def test_python_split_at_function_and_class_boundaries():
    secs = load(CODE.encode(), "src/geometry.py")
    symbols = {s.meta.get("symbol"): s for s in secs}
    area = symbols["circle_area"]
    assert area.text.startswith("def circle_area") and area.meta["start_line"] == 5
    assert CODE.split("\n")[area.meta["end_line"] - 1].strip() == "return math.pi * radius ** 2"
    assert "Polygon" in symbols


def test_python_syntax_error_falls_back_to_generic_code_split():
    secs = load(b"def broken(:\n    pass\n\nclass Fine:\n    pass\n", "x.py")
    assert len(secs) == 2 and secs[1].meta["start_line"] == 4


def test_markdown_is_header_aware():
    secs = load(MARKDOWN.encode(), "README.md")
    assert [s.meta["heading"] for s in secs] == [
        "Project Aurora",
        "Project Aurora > Installation",
        "Project Aurora > Troubleshooting",
    ]
    trouble = secs[2]
    lines = MARKDOWN.split("\n")
    assert lines[trouble.meta["start_line"] - 1] == "## Troubleshooting"


def test_csv_reads_only_head_of_big_file(monkeypatch):
    monkeypatch.setattr(loaders, "CSV_READ_BYTES", 4096)
    rows = "\n".join(f"{i},name{i},{i * 1.5}" for i in range(100_000))
    data = ("id,name,value\n" + rows + "\n").encode()
    secs = load(data, "big.csv")
    text = "\n".join(s.text for s in secs)
    assert "Columns: id, name, value" in text and "about" in text
    assert "name99999" not in text  # never looked at the tail
    assert len(text) < 4096
    assert secs[0].meta["end_line"] == loaders.CSV_HEAD_ROWS + 1


def test_tsv_header():
    secs = load(b"a\tb\n1\t2\n", "t.tsv")
    assert "Columns: a, b" in secs[0].text


def test_pdf_pages():
    secs = load(pdf(["first page about owls", "second page about bats"]), "x.pdf")
    assert [s.meta["page"] for s in secs] == [1, 2]
    assert "bats" in secs[1].text


def test_html_text_without_scripts():
    secs = load(
        b"<html><script>evil()</script><body><h1>Hi</h1><p>Body text</p></body></html>", "p.html"
    )
    assert "Body text" in secs[0].text and "evil" not in secs[0].text


@pytest.mark.parametrize(
    "path,data",
    [
        ("fake.py", b"\x7fELF\x02\x01\x01\x00\x00\x00binary"),
        ("latin.txt", "caf\xe9".encode("latin-1") + b"\xff\xfe\xfd"),
        ("broken.ipynb", b"{not json"),
        ("broken.pdf", b"%PDF-1.4 garbage"),
        ("image.png", b"\x89PNG"),
    ],
)
def test_unreadable_files_raise_unsupported(path, data):
    with pytest.raises(Unsupported):
        load(data, path)


def test_python_sections_cover_every_line():
    src = (
        "# leading comment\nimport os\n\n# about f\ndef f():\n    return 1\n"
        "# between\nX = 2\n\ndef g():\n    pass\n# trailing comment\n"
    )
    secs = load(src.encode(), "m.py")
    covered = set()
    for s in secs:
        covered.update(range(s.meta["start_line"], s.meta["end_line"] + 1))
        assert s.text == "\n".join(src.split("\n")[s.meta["start_line"] - 1 : s.meta["end_line"]])
    non_blank = {i + 1 for i, line in enumerate(src.split("\n")) if line.strip()}
    assert non_blank <= covered
    f = next(s for s in secs if s.meta.get("symbol") == "f")
    assert f.text.startswith("# about f\ndef f():")


def test_notebook_code_cell_with_only_comment_and_statement():
    nb = notebook([{"source": "# zanzibar kangaroo\nvalue = 1"}])
    secs = load(nb.encode(), "n.ipynb")
    assert secs[0].text.startswith("# zanzibar kangaroo")
