"""Turn a file's bytes into :class:`Section`s: pieces of text with where they came from.

One loader per kind of file; :func:`load` picks one by extension. A section's lines map
one-to-one onto lines of the file (or of a notebook cell / PDF page) starting at
``meta["start_line"]``, so the splitter can cut it and still say which lines a chunk is.
Loaders raise :class:`Unsupported` for anything they cannot read as text (binary, broken);
the indexer counts those as skipped.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

MAX_OUTPUT_CHARS = 2000
CSV_HEAD_ROWS = 20
CSV_SAMPLE_ROWS = 10
CSV_READ_BYTES = 256 * 1024


class Unsupported(Exception):
    """The file is binary, of an unknown kind, or cannot be parsed."""


@dataclass
class Section:
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    # may the splitter pack this section together with its neighbours?
    mergeable: bool = True


CODE_EXTS = {
    "py",
    "pyi",
    "js",
    "jsx",
    "ts",
    "tsx",
    "mjs",
    "cjs",
    "java",
    "kt",
    "scala",
    "go",
    "rs",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "cs",
    "rb",
    "php",
    "swift",
    "r",
    "jl",
    "lua",
    "sh",
    "bash",
    "zsh",
    "sql",
    "m",
    "pl",
    "dart",
    "css",
    "scss",
    "vue",
    "svelte",
}
TEXT_EXTS = {
    "txt",
    "rst",
    "log",
    "cfg",
    "ini",
    "toml",
    "yaml",
    "yml",
    "json",
    "xml",
    "tex",
    "text",
    "env",
    "conf",
    "properties",
    "gitignore",
    "dockerfile",
    "makefile",
    "",
}
MARKDOWN_EXTS = {"md", "markdown", "mdx", "qmd"}
HTML_EXTS = {"html", "htm", "xhtml"}
CSV_EXTS = {"csv", "tsv"}


def file_type_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if "." not in name:
        return name if name in ("makefile", "dockerfile") else ""
    return name.rsplit(".", 1)[-1]


def is_supported(path: str) -> bool:
    ext = file_type_of(path)
    return (
        ext in CODE_EXTS
        or ext in TEXT_EXTS
        or ext in MARKDOWN_EXTS
        or ext in HTML_EXTS
        or ext in CSV_EXTS
        or ext in ("ipynb", "pdf")
    )


def decode_text(data: bytes) -> str:
    """UTF-8 text or :class:`Unsupported` (NUL bytes or undecodable: binary)."""
    if b"\x00" in data[:8192]:
        raise Unsupported("binary content")
    text: str | None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            raise Unsupported("not UTF-8 text") from None
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _lines_section(lines: list[str], start: int, end: int, **meta: Any) -> Section:
    """Section for ``lines[start:end]`` (0-based), meta lines 1-based inclusive."""
    return Section("\n".join(lines[start:end]), {"start_line": start + 1, "end_line": end, **meta})


# -- plain text ------------------------------------------------------------------------
def load_text(data: bytes, path: str) -> list[Section]:
    text = decode_text(data)
    lines = text.split("\n")
    return [_lines_section(lines, 0, len(lines))] if text.strip() else []


# -- markdown --------------------------------------------------------------------------
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_sections(text: str, **meta: Any) -> list[Section]:
    """Split markdown at headings (outside code fences); each section knows its heading path."""
    lines = text.split("\n")
    out: list[Section] = []
    path: list[tuple[int, str]] = []
    start = 0
    heading = ""
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else _HEADING.match(line)
        if m is None:
            continue
        if i > start and "\n".join(lines[start:i]).strip():
            out.append(_lines_section(lines, start, i, heading=heading, **meta))
        level = len(m.group(1))
        path = [(lv, t) for lv, t in path if lv < level] + [(level, m.group(2))]
        heading = " > ".join(t for _, t in path)
        start = i
    if "\n".join(lines[start:]).strip():
        out.append(_lines_section(lines, start, len(lines), heading=heading, **meta))
    return out


def load_markdown(data: bytes, path: str) -> list[Section]:
    return markdown_sections(decode_text(data))


# -- code --------------------------------------------------------------------------------
def python_sections(text: str, **meta: Any) -> list[Section]:
    """Split Python at top-level function/class boundaries (big classes at their methods).

    Every line lands in a section: module-level statements and comments between
    definitions form their own sections; a comment block right above a definition goes
    with it.
    """
    lines = text.split("\n")
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return code_sections(text, **meta)
    out: list[Section] = []

    def has_text(a: int, b: int) -> bool:
        return b > a and bool("\n".join(lines[a:b]).strip())

    def add(a: int, b: int, mergeable: bool = True, **extra: Any) -> None:
        if has_text(a, b):
            out.append(_lines_section(lines, a, b, **extra, **meta))
            out[-1].mergeable = mergeable

    def node_start(node: ast.stmt, floor: int) -> int:
        decos = getattr(node, "decorator_list", [])
        start = min([node.lineno] + [d.lineno for d in decos]) - 1
        while start > floor and lines[start - 1].strip().startswith("#"):
            start -= 1  # the comment block just above belongs to the definition
        return start

    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    cursor = 0  # first line not in any section yet
    for node in tree.body:
        if not isinstance(node, defs):
            continue  # module-level statements accumulate until the next definition
        start, end = node_start(node, cursor), node.end_lineno or node.lineno
        add(cursor, start)
        if isinstance(node, ast.ClassDef) and end - start > 60 and node.body:
            members = [n for n in node.body if isinstance(n, defs)]
            head_end = node_start(members[0], start) if members else end
            add(start, head_end, False, symbol=node.name)
            prev = head_end
            for n in members:
                s, e = node_start(n, prev), n.end_lineno or n.lineno
                add(prev, s, symbol=node.name)
                add(s, e, False, symbol=f"{node.name}.{n.name}")
                prev = e
            add(prev, end, symbol=node.name)
        else:
            add(start, end, False, symbol=node.name)
        cursor = end
    add(cursor, len(lines))
    return out


_CODE_BOUNDARY = re.compile(
    r"^(export\s+|pub(\(\w+\))?\s+|public\s+|private\s+|protected\s+|static\s+|async\s+|default\s+)*"
    r"(def|class|function|fn|func|impl|struct|enum|interface|trait|type|module|object|const|let|var|"
    r"package|CREATE|SELECT)\b"
)


def code_sections(text: str, **meta: Any) -> list[Section]:
    """Split other source code at unindented declarations that follow a blank line."""
    lines = text.split("\n")
    out: list[Section] = []
    start = 0
    for i in range(1, len(lines)):
        if _CODE_BOUNDARY.match(lines[i]) and not lines[i - 1].strip():
            if "\n".join(lines[start:i]).strip():
                out.append(_lines_section(lines, start, i, **meta))
            start = i
    if "\n".join(lines[start:]).strip():
        out.append(_lines_section(lines, start, len(lines), **meta))
    return out


def load_code(data: bytes, path: str) -> list[Section]:
    text = decode_text(data)
    if file_type_of(path) in ("py", "pyi"):
        return python_sections(text)
    return code_sections(text)


# -- notebooks -----------------------------------------------------------------------------
def _join(src: Any) -> str:
    return "".join(src) if isinstance(src, list) else (src or "")


def _cell_outputs(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs") or []:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_join(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_join((out.get("data") or {}).get("text/plain")))
        elif kind == "error":
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    text = "\n".join(p.rstrip("\n") for p in parts if p)
    return text[:MAX_OUTPUT_CHARS]


def load_notebook(data: bytes, path: str) -> list[Section]:
    """One or more sections per cell: its source, then its text outputs (``output: true``)."""
    try:
        nb = json.loads(decode_text(data))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as e:
        raise Unsupported(f"not a notebook: {e}") from None
    lang = ((nb.get("metadata") or {}).get("kernelspec") or {}).get("language", "python")
    out: list[Section] = []
    for idx, cell in enumerate(cells):
        ctype = cell.get("cell_type", "code")
        src = _join(cell.get("source")).replace("\r\n", "\n")
        meta = {"cell": idx, "cell_id": cell.get("id") or f"cell-{idx}", "cell_type": ctype}
        if src.strip():
            if ctype == "markdown":
                secs = markdown_sections(src, **meta)
            elif ctype == "code" and lang == "python":
                secs = python_sections(src, **meta)
            else:
                lines = src.split("\n")
                secs = [_lines_section(lines, 0, len(lines), **meta)]
            for s in secs:
                s.mergeable = True
            out.extend(secs)
        if ctype == "code":
            outputs = _cell_outputs(cell)
            if outputs.strip():
                n = outputs.count("\n") + 1
                out.append(
                    Section(outputs, {**meta, "output": True, "start_line": 1, "end_line": n})
                )
    return out


# -- CSV / TSV -----------------------------------------------------------------------------
def load_csv(data: bytes, path: str) -> list[Section]:
    """Header + the first rows + a sample from the rest; never parses the whole of a big file."""
    head = data[:CSV_READ_BYTES]
    text = decode_text(head)
    delim = "\t" if file_type_of(path) == "tsv" else ","
    if delim == ",":
        try:
            delim = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            pass
    lines = text.split("\n")
    if len(data) > CSV_READ_BYTES:
        lines = lines[:-1]  # the last one may be cut
    rows = list(csv.reader(io.StringIO("\n".join(lines[: CSV_HEAD_ROWS + 1])), delimiter=delim))
    if not rows:
        return []
    header = rows[0]
    approx_rows = None
    if len(data) > CSV_READ_BYTES and len(lines) > 1:
        approx_rows = int(len(data) / (len(head) / len(lines)))
    n_rows = approx_rows or max(len([ln for ln in lines if ln.strip()]) - 1, 0)
    summary = (
        f"Table {path.rsplit('/', 1)[-1]}: {len(header)} columns, "
        f"{'about ' if approx_rows else ''}{n_rows} rows.\nColumns: " + ", ".join(header)
    )
    # the "Columns:" line stands for the header (file line 1), so the text's line i is
    # file line i: start_line 0 is the summary line before it
    out = [
        Section(
            summary + "\n" + "\n".join(lines[1 : CSV_HEAD_ROWS + 1]),
            {"start_line": 0, "end_line": min(len(lines), CSV_HEAD_ROWS + 1), "columns": header},
        )
    ]
    out[0].mergeable = False
    rest = lines[CSV_HEAD_ROWS + 1 :]
    if rest:
        step = max(len(rest) // CSV_SAMPLE_ROWS, 1)
        picked = list(range(0, len(rest), step))[:CSV_SAMPLE_ROWS]
        sample = "\n".join(lines[0:1] + [rest[i] for i in picked])
        first = CSV_HEAD_ROWS + 2 + picked[0]
        last = CSV_HEAD_ROWS + 2 + picked[-1]
        out.append(
            Section(
                "Sample rows:\n" + sample, {"start_line": first, "end_line": last, "sample": True}
            )
        )
        out[-1].mergeable = False
    return out


# -- PDF ------------------------------------------------------------------------------------
def load_pdf(data: bytes, path: str) -> list[Section]:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        out = []
        for i, page in enumerate(reader.pages):
            text = (page.extract_text() or "").replace("\r\n", "\n")
            if text.strip():
                n = text.count("\n") + 1
                out.append(Section(text, {"page": i + 1, "start_line": 1, "end_line": n}))
        return out
    except Exception as e:
        raise Unsupported(f"unreadable PDF: {e}") from None


# -- HTML -----------------------------------------------------------------------------------
class _TextExtractor(HTMLParser):
    SKIP = frozenset(("script", "style", "noscript", "template", "svg"))
    BLOCK = frozenset(
        (
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "pre",
            "table",
            "ul",
            "ol",
            "header",
            "footer",
            "title",
        )
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    p = _TextExtractor()
    p.feed(html)
    p.close()
    text = re.sub(r"[ \t]+", " ", "".join(p.parts))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def load_html(data: bytes, path: str) -> list[Section]:
    text = html_to_text(decode_text(data))
    if not text:
        return []
    lines = text.split("\n")
    # line numbers refer to the extracted text, not the HTML source
    return [Section(text, {"start_line": 1, "end_line": len(lines), "extracted": True})]


Loader = Callable[[bytes, str], "list[Section]"]


def loader_for(path: str) -> Loader | None:
    ext = file_type_of(path)
    if ext == "ipynb":
        return load_notebook
    if ext == "pdf":
        return load_pdf
    if ext in MARKDOWN_EXTS:
        return load_markdown
    if ext in CSV_EXTS:
        return load_csv
    if ext in HTML_EXTS:
        return load_html
    if ext in CODE_EXTS:
        return load_code
    if ext in TEXT_EXTS:
        return load_text
    return None


def load(data: bytes, path: str) -> list[Section]:
    """Sections of a file, or :class:`Unsupported`."""
    loader = loader_for(path)
    if loader is None:
        raise Unsupported("unknown file type")
    try:
        return loader(data, path)
    except Unsupported:
        raise
    except (ValueError, RecursionError, MemoryError) as e:
        raise Unsupported(f"cannot parse: {e}") from None
