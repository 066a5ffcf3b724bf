"""Cut :class:`Section`s into chunks that fit the embedding model's window.

Token-aware: line lengths are counted with the embedding model's own tokenizer
(``tokenizer.json`` read by the fast ``tokenizers`` library) when there is one, else
estimated. Chunks are made of whole lines where possible (a longer line is cut at word
boundaries), consecutive chunks of a section overlap by about ``overlap`` tokens, and small
mergeable neighbours (same cell/page) are packed together. Each chunk carries its
section's metadata with ``start_line``/``end_line`` narrowed to the lines it holds.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .loaders import Section

_WORDISH = re.compile(r"\w+|[^\w\s]")


@dataclass
class Chunk:
    text: str
    meta: dict[str, Any]


if TYPE_CHECKING:
    from tokenizers import Tokenizer


class TokenCounter:
    """Counts word pieces with a HuggingFace ``tokenizer.json`` (lazily loaded), or estimates."""

    def __init__(self, tokenizer_file: str | None = None) -> None:
        self.tokenizer_file = tokenizer_file
        self._tok: Tokenizer | None = None
        self._lock = threading.Lock()
        self._loaded = False

    def _load(self):
        with self._lock:
            if not self._loaded:
                self._loaded = True
                if self.tokenizer_file and os.path.isfile(self.tokenizer_file):
                    try:
                        from tokenizers import Tokenizer

                        tok = Tokenizer.from_file(self.tokenizer_file)
                        tok.no_truncation()
                        tok.no_padding()
                        self._tok = tok
                    except Exception:
                        self._tok = None
        return self._tok

    @property
    def exact(self) -> bool:
        return self._load() is not None

    def count(self, texts: Sequence[str]) -> list[int]:
        tok = self._load()
        if tok is None:
            return [int(len(_WORDISH.findall(t)) * 1.3) for t in texts]
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]


class Splitter:
    def __init__(
        self, chunk_size: int = 240, overlap: int = 32, counter: TokenCounter | None = None
    ) -> None:
        if chunk_size < 16:
            raise ValueError("chunk_size must be at least 16 tokens")
        self.chunk_size = chunk_size
        self.overlap = max(0, min(overlap, chunk_size // 2))
        self.counter = counter or TokenCounter()

    def split(self, sections: Sequence[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        # pack small mergeable neighbours sharing cell/page into one section first
        packed: list[tuple[Section, int]] = []
        sizes = self.counter.count([s.text for s in sections]) if sections else []
        for sec, size in zip(sections, sizes, strict=False):
            if packed:
                prev, psize = packed[-1]
                same_place = all(
                    prev.meta.get(k) == sec.meta.get(k) for k in ("cell", "page", "output")
                )
                contiguous = prev.meta.get("end_line", -1) + 1 == sec.meta.get("start_line", -2)
                if (
                    prev.mergeable
                    and sec.mergeable
                    and same_place
                    and contiguous
                    and psize + size <= self.chunk_size
                ):
                    meta = dict(prev.meta)
                    meta["end_line"] = sec.meta.get("end_line")
                    if prev.meta.get("heading") != sec.meta.get("heading"):
                        meta["heading"] = prev.meta.get("heading") or sec.meta.get("heading")
                    merged = Section(prev.text + "\n" + sec.text, meta, True)
                    packed[-1] = (merged, psize + size)
                    continue
            packed.append((sec, size))
        for sec, size in packed:
            if size <= self.chunk_size:
                if sec.text.strip():
                    chunks.append(Chunk(sec.text, _clamp(dict(sec.meta))))
            else:
                chunks.extend(self._split_section(sec))
        return chunks

    def _split_section(self, sec: Section) -> list[Chunk]:
        lines = sec.text.split("\n")
        counts = self.counter.count(lines)
        base = int(sec.meta.get("start_line", 1))
        # explode over-long lines into word pieces, all mapped to their line
        units: list[tuple[str, int, int]] = []  # (text, line index, tokens)
        for i, (line, n) in enumerate(zip(lines, counts, strict=False)):
            if n <= self.chunk_size:
                units.append((line, i, n))
            else:
                units.extend((piece, i, pn) for piece, pn in self._cut_line(line))
        out: list[Chunk] = []
        start = 0
        while start < len(units):
            total = 0
            end = start
            while end < len(units) and (
                total + units[end][2] + 1 <= self.chunk_size or end == start
            ):
                total += units[end][2] + 1
                end += 1
            text = _join_units(units[start:end])
            if text.strip():
                meta = dict(sec.meta)
                meta["start_line"] = base + units[start][1]
                meta["end_line"] = base + units[end - 1][1]
                out.append(Chunk(text, _clamp(meta)))
            if end >= len(units):
                break
            back, nxt = 0, end
            while nxt - 1 > start and back + units[nxt - 1][2] <= self.overlap:
                nxt -= 1
                back += units[nxt][2]
            start = max(nxt, start + 1)
        return out

    def _cut_line(self, line: str) -> list[tuple[str, int]]:
        words = line.split(" ")
        counts = self.counter.count(words)
        pieces: list[tuple[str, int]] = []
        cur: list[str] = []
        cur_n = 0
        limit = self.chunk_size - 1
        for w, n in zip(words, counts, strict=False):
            if n > limit:  # one enormous "word": cut by characters
                step = max(len(w) * limit // max(n, 1), 1)
                for i in range(0, len(w), step):
                    pieces.append((w[i : i + step], limit))
                continue
            if cur and cur_n + n > limit:
                pieces.append((" ".join(cur), cur_n))
                cur, cur_n = [], 0
            cur.append(w)
            cur_n += n
        if cur:
            pieces.append((" ".join(cur), cur_n))
        # mark pieces of the same line so they rejoin with spaces
        return [("\x00" + p if i else p, n) for i, (p, n) in enumerate(pieces)]


def _join_units(units: list[tuple[str, int, int]]) -> str:
    parts: list[str] = []
    for text, _, _ in units:
        if text.startswith("\x00"):
            piece = text[1:]
            if parts:
                parts[-1] = parts[-1] + " " + piece
            else:
                parts.append(piece)
        else:
            parts.append(text)
    return "\n".join(parts)


def _clamp(meta: dict[str, Any]) -> dict[str, Any]:
    if "start_line" in meta:
        meta["start_line"] = max(int(meta["start_line"]), 1)
        meta["end_line"] = max(int(meta.get("end_line", meta["start_line"])), meta["start_line"])
    return meta
