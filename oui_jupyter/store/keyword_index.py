"""In-memory BM25 keyword index over integer row positions.

Built like a small Lucene: postings live in immutable CSR *segments* (numpy arrays),
one new segment per ``add`` call; small segments are merged when there are too many.
Deletes are not applied to the postings: the caller passes an ``alive`` mask to
``search`` (and ``compact`` drops dead rows and renumbers). Document frequencies count
every document ever added since the last compaction, as Lucene does.

Each posting stores its BM25 term *impact* ``tf*(k1+1)/(tf + k1*(1-b+b*dl/avgdl))``
computed when the segment is built, so a query is ``scores[docs] += idf * impacts``
per query term and segment, then a partial sort of the touched rows.

numpy is imported lazily: this module is importable at server start.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_WORD_RE = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[A-Za-z]|\d+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "self",
        "none",
        "true",
        "false",
    ]
)


def normalize_word(word: str) -> str | None:
    """Lower-case a word, drop stop words, strip a plural/verb suffix (tiny stemmer)."""
    w = word.lower()
    if w in STOPWORDS or (len(w) == 1 and not w.isdigit()):
        return None
    if len(w) > 4:
        if w.endswith("ies"):
            return w[:-3] + "y"
        if w.endswith("ing") and len(w) > 5:
            return w[:-3]
        if w.endswith("ed") and len(w) > 5:
            return w[:-2]
        if w.endswith("es") and w[-3] in "sxz":
            return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def tokenize(text: str) -> list[str]:
    """Split text into index terms: words, identifier parts (snake/camelCase), numbers."""
    out = []
    for word in _WORD_RE.findall(text):
        t = normalize_word(word)
        if t is not None:
            out.append(t)
    return out


class _Segment:
    __slots__ = ("docs", "imps", "n_docs", "offsets")

    def __init__(
        self, offsets: np.ndarray, docs: np.ndarray, imps: np.ndarray, n_docs: int
    ) -> None:
        self.offsets = offsets  # int64, len = vocab size at build + 1
        self.docs = docs  # int32 row positions, grouped by term
        self.imps = imps  # float32 impacts, aligned with docs
        self.n_docs = n_docs

    @property
    def n_postings(self) -> int:
        return int(self.docs.shape[0])

    def triplets(self):
        import numpy as np

        counts = np.diff(self.offsets)
        terms = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
        return terms, self.docs, self.imps


class KeywordIndex:
    """BM25 over rows ``0..n``; thread-safe (one lock)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, max_segments: int = 8) -> None:

        self.k1 = k1
        self.b = b
        self.max_segments = max_segments
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        import numpy as np

        self._vocab: dict[str, int] = {}
        # raw word -> term id (or -1 for a stop word): one dict hit per word when indexing
        self._word_cache: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)
        self._segments: list[_Segment] = []
        self._n_docs = 0
        self._total_len = 0
        self._max_row = -1

    # -- building -----------------------------------------------------------------
    def _term_ids(self, text: str) -> list[int]:
        cache = self._word_cache
        vocab = self._vocab
        ids = []
        for word in _WORD_RE.findall(text):
            tid = cache.get(word)
            if tid is None:
                term = normalize_word(word)
                if term is None:
                    tid = -1
                else:
                    tid = vocab.get(term)
                    if tid is None:
                        tid = vocab[term] = len(vocab)
                if len(cache) < 2_000_000:
                    cache[word] = tid
            if tid >= 0:
                ids.append(tid)
        return ids

    def add(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        """Index ``texts`` at row positions ``rows`` (new rows, never indexed before)."""
        import numpy as np

        if len(rows) == 0:
            return
        with self._lock:
            per_doc = [self._term_ids(t) for t in texts]
            lens = np.fromiter((len(d) for d in per_doc), dtype=np.int64, count=len(per_doc))
            flat = np.fromiter(
                (tid for d in per_doc for tid in d), dtype=np.int64, count=int(lens.sum())
            )
            rows_arr = np.asarray(rows, dtype=np.int64)
            vocab_size = len(self._vocab)
            if self._df.shape[0] < vocab_size:
                grown = np.zeros(max(vocab_size, 2 * self._df.shape[0]), dtype=np.int64)
                grown[: self._df.shape[0]] = self._df
                self._df = grown
            self._n_docs += len(per_doc)
            self._total_len += int(lens.sum())
            self._max_row = max(self._max_row, int(rows_arr.max()))
            avgdl = max(self._total_len / max(self._n_docs, 1), 1.0)
            local = np.repeat(np.arange(len(per_doc), dtype=np.int64), lens)
            keys = np.unique(local * vocab_size + flat, return_counts=True)
            ukeys, tf = keys
            doc_local = ukeys // vocab_size
            terms = ukeys % vocab_size
            self._df += np.bincount(terms, minlength=self._df.shape[0])
            dl = lens[doc_local].astype(np.float32)
            tf = tf.astype(np.float32)
            imps = tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * dl / avgdl))
            order = np.argsort(terms, kind="stable")
            offsets = np.zeros(vocab_size + 1, dtype=np.int64)
            np.cumsum(np.bincount(terms, minlength=vocab_size), out=offsets[1:])
            seg = _Segment(
                offsets,
                rows_arr[doc_local[order]].astype(np.int32),
                imps[order].astype(np.float32),
                len(per_doc),
            )
            self._segments.append(seg)
            self._maybe_merge()

    def _maybe_merge(self, alive: np.ndarray | None = None) -> None:
        while len(self._segments) > self.max_segments:
            self._segments.sort(key=lambda s: s.n_postings)
            a, b = self._segments[0], self._segments[1]
            self._segments[:2] = [self._merge([a, b], alive)]

    def _merge(
        self, segs: list[_Segment], alive: np.ndarray | None = None, remap: np.ndarray | None = None
    ) -> _Segment:
        import numpy as np

        vocab_size = len(self._vocab)
        parts = [s.triplets() for s in segs]
        terms = np.concatenate([p[0] for p in parts])
        docs = np.concatenate([p[1] for p in parts])
        imps = np.concatenate([p[2] for p in parts])
        if alive is not None:
            keep = alive[docs]
            terms, docs, imps = terms[keep], docs[keep], imps[keep]
        if remap is not None:
            docs = remap[docs].astype(np.int32)
        order = np.argsort(terms, kind="stable")
        offsets = np.zeros(vocab_size + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=vocab_size), out=offsets[1:])
        return _Segment(offsets, docs[order], imps[order], sum(s.n_docs for s in segs))

    def compact(self, alive: np.ndarray) -> None:
        """Drop rows where ``alive`` is False and renumber the rest densely, in order."""
        import numpy as np

        with self._lock:
            remap = np.cumsum(alive, dtype=np.int64) - 1
            n_alive = int(alive.sum())
            if self._segments:
                self._segments = [self._merge(self._segments, alive, remap)]
                self._segments[0].n_docs = n_alive
            # recompute document frequencies over surviving postings
            self._df[:] = 0
            for seg in self._segments:
                counts = np.diff(seg.offsets)
                self._df[: counts.shape[0]] += counts
            self._total_len = int(self._total_len * (n_alive / max(self._n_docs, 1)))
            self._n_docs = n_alive
            self._max_row = n_alive - 1

    def clear(self) -> None:
        with self._lock:
            self._reset()

    # -- querying -----------------------------------------------------------------
    def query_terms(self, query: str) -> list[int]:
        ids = []
        for term in tokenize(query):
            tid = self._vocab.get(term)
            if tid is not None and tid not in ids:
                ids.append(tid)
        return ids

    def term_weights(self, query: str) -> dict[str, float]:
        """The BM25 idf of each of the query's terms (a term no document holds: the highest)."""
        with self._lock:
            n_docs = self._n_docs
            out = {}
            for term in tokenize(query):
                tid = self._vocab.get(term)
                df = int(self._df[tid]) if tid is not None else 0
                out[term] = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            return out

    def search(
        self, query: str, n: int, mask: np.ndarray | None = None, n_rows: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` rows by BM25: ``(rows int64 array, scores float32 array)``, best first.

        ``mask`` (bool array over rows) keeps only rows where it is True.
        """
        import numpy as np

        with self._lock:
            tids = self.query_terms(query)
            size = max(n_rows or 0, self._max_row + 1, 0)
            if not tids or size == 0 or n <= 0:
                return np.empty(0, np.int64), np.empty(0, np.float32)
            scores = np.zeros(size, dtype=np.float32)
            touched = []
            n_touched = 0
            N = self._n_docs
            for tid in tids:
                df = int(self._df[tid])
                idf = math.log(1.0 + (N - df + 0.5) / (df + 0.5))
                for seg in self._segments:
                    if tid + 1 >= seg.offsets.shape[0]:
                        continue
                    s, e = seg.offsets[tid], seg.offsets[tid + 1]
                    if e > s:
                        d = seg.docs[s:e]
                        scores[d] += np.float32(idf) * seg.imps[s:e]
                        touched.append(d)
                        n_touched += int(e - s)
        if not touched:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if n_touched * 8 < size:
            cand = np.unique(np.concatenate(touched))
        else:
            cand = np.flatnonzero(scores)
        if mask is not None:
            m = mask[:size] if mask.shape[0] >= size else np.pad(mask, (0, size - mask.shape[0]))
            cand = cand[m[cand]]
        if cand.shape[0] == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        cs = scores[cand]
        if cand.shape[0] > n:
            part = np.argpartition(-cs, n - 1)[:n]
            cand, cs = cand[part], cs[part]
        order = np.lexsort((cand, -cs))  # best first, ties by row
        return cand[order].astype(np.int64), cs[order]

    def stats(self) -> dict:
        return {
            "docs": self._n_docs,
            "terms": len(self._vocab),
            "segments": len(self._segments),
            "postings": sum(s.n_postings for s in self._segments),
        }

    def nbytes(self) -> int:
        return (
            sum(s.offsets.nbytes + s.docs.nbytes + s.imps.nbytes for s in self._segments)
            + self._df.nbytes
        )
