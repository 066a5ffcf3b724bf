"""Hybrid search: BM25 + vector, fused with reciprocal rank fusion.

``search`` asks each retriever that can answer for its best ``candidates`` positions
(filters applied as one boolean mask), then fuses: ``score = sum(1 / (rrf_k + rank))``.
The keyword retriever answers as soon as text is indexed; the vector one once the
embedding model is loaded and chunks have vectors. Every hit says which retrievers found it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ...store.vector_store import Hit, SearchFilter

MODES = ("hybrid", "keyword", "vector")


@dataclass
class SearchResult:
    hits: list[Hit]
    retrievers: list[str] = field(default_factory=list)


def rrf_fuse(ranked: dict[str, Sequence[int]], rrf_k: int = 60) -> list[tuple[int, float, list[str]]]:
    """Fuse ranked position lists: ``[(position, score, [retriever...]), ...]`` best first."""
    scores: dict[int, float] = {}
    found_by: dict[int, list[str]] = {}
    for name, positions in ranked.items():
        for rank, p in enumerate(positions):
            p = int(p)
            scores[p] = scores.get(p, 0.0) + 1.0 / (rrf_k + rank + 1)
            found_by.setdefault(p, []).append(name)
    order = sorted(scores, key=lambda p: (-scores[p], p))
    return [(p, scores[p], found_by[p]) for p in order]


def search(store, query: str, k: int, *, flt: SearchFilter | None = None, qvec=None,
           mode: str = "hybrid", candidates: int | None = None, rrf_k: int = 60) -> SearchResult:
    """Top ``k`` chunks for ``query``. ``qvec``: the query's embedding (None: keyword only)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if k <= 0 or not query.strip():
        return SearchResult([], [])
    mask = store.mask(flt)
    n_cand = candidates or max(4 * k, 40)
    ranked: dict[str, Sequence[int]] = {}
    raw: dict[str, dict[int, float]] = {}
    if mode in ("hybrid", "keyword"):
        pos, sc = store.keyword_search(query, n_cand if mode == "hybrid" else k, mask)
        ranked["keyword"] = pos
        raw["keyword"] = dict(zip(pos.tolist(), sc.tolist()))
    if mode in ("hybrid", "vector") and qvec is not None:
        pos, sc = store.vector_search(qvec, n_cand if mode == "hybrid" else k, mask)
        if len(pos):
            ranked["vector"] = pos
            raw["vector"] = dict(zip(pos.tolist(), sc.tolist()))
    answered = [name for name in ranked if len(ranked[name])] or list(ranked)
    if len(ranked) == 1:
        name = next(iter(ranked))
        fused = [(int(p), raw[name][int(p)], [name]) for p in ranked[name][:k]]
    else:
        fused = rrf_fuse(ranked, rrf_k)[:k]
    docs = store.fetch([p for p, _, _ in fused])
    hits = []
    for (p, score, by), (text, meta) in zip(fused, docs):
        hit = Hit(p, text, meta, float(score), by)
        for name in by:
            hit.meta[f"{name}_score"] = round(raw[name][p], 6)
        hits.append(hit)
    return SearchResult(hits, answered)
