"""Hybrid search: BM25 + vector, fused.

``search`` asks each retriever that can answer for its best ``candidates`` positions
(filters applied as one boolean mask), then fuses the lists:

* ``relative`` (default): each list's scores min-max normalised to [0, 1], then
  ``(1 - alpha) * keyword + alpha * vector`` (alpha 0.5: equal weights);
* ``rrf``: reciprocal rank fusion, ``sum(1 / (rrf_k + rank))``.

Relative score fusion is the default because it uses how *much* better a hit is, not only
its rank: on our evaluation set (docstring -> function, benchmarks/retrieval_quality.py)
RRF scored below the vector retriever alone, relative fusion above both.

The keyword retriever answers as soon as text is indexed; the vector one once the
embedding model is loaded and chunks have vectors. Every hit says which retrievers found it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...store.index_types import Hit, SearchFilter

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ...store.vector_index import VectorIndex

MODES = ("hybrid", "keyword", "vector")
FUSIONS = ("relative", "rrf")


@dataclass
class SearchResult:
    hits: list[Hit]
    retrievers: list[str] = field(default_factory=list)


Fused = list[tuple[int, float, list[str]]]


def rrf_fuse(ranked: Mapping[str, Iterable[int]], rrf_k: int = 60) -> Fused:
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


def relative_fuse(raw: dict[str, dict[int, float]], weights: dict[str, float]) -> Fused:
    """Min-max normalise each retriever's scores, then add them with ``weights``."""
    scores: dict[int, float] = {}
    found_by: dict[int, list[str]] = {}
    for name, by_pos in raw.items():
        if not by_pos:
            continue
        lo, hi = min(by_pos.values()), max(by_pos.values())
        span = hi - lo
        w = weights.get(name, 1.0)
        for p, s in by_pos.items():
            norm = (s - lo) / span if span > 0 else 1.0
            scores[p] = scores.get(p, 0.0) + w * norm
            found_by.setdefault(p, []).append(name)
    order = sorted(scores, key=lambda p: (-scores[p], p))
    return [(p, scores[p], found_by[p]) for p in order]


def search(
    store: VectorIndex,
    query: str,
    k: int,
    *,
    flt: SearchFilter | None = None,
    qvec: Any = None,
    mode: str = "hybrid",
    candidates: int | None = None,
    fusion: str = "relative",
    alpha: float = 0.5,
    rrf_k: int = 60,
) -> SearchResult:
    """Top ``k`` chunks for ``query``. ``qvec``: the query's embedding (None: keyword only);
    ``alpha``: the vector retriever's weight in relative fusion."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}")
    if k <= 0 or not query.strip():
        return SearchResult([], [])
    with store.reading():
        mask = store.mask(flt)
        n_cand = candidates or max(4 * k, 40)
        ranked: dict[str, NDArray[np.int64]] = {}
        raw: dict[str, dict[int, float]] = {}
        if mode in ("hybrid", "keyword"):
            pos, sc = store.keyword_search(query, n_cand if mode == "hybrid" else k, mask)
            ranked["keyword"] = pos
            raw["keyword"] = dict(zip(pos.tolist(), sc.tolist(), strict=False))
        if mode in ("hybrid", "vector") and qvec is not None:
            pos, sc = store.vector_search(qvec, n_cand if mode == "hybrid" else k, mask)
            if len(pos):
                ranked["vector"] = pos
                raw["vector"] = dict(zip(pos.tolist(), sc.tolist(), strict=False))
        answered = [name for name in ranked if len(ranked[name])] or list(ranked)
        if len(ranked) == 1:
            name = next(iter(ranked))
            fused = [(int(p), raw[name][int(p)], [name]) for p in ranked[name][:k]]
        elif fusion == "rrf":
            fused = rrf_fuse(ranked, rrf_k)[:k]
        else:
            fused = relative_fuse(raw, {"keyword": 1.0 - alpha, "vector": alpha})[:k]
        docs = store.fetch([p for p, _, _ in fused])
    hits = []
    for (p, score, by), (text, meta) in zip(fused, docs, strict=False):
        hit = Hit(p, text, meta, float(score), by)
        for name in by:
            hit.meta[f"{name}_score"] = round(raw[name][p], 6)
        hits.append(hit)
    return SearchResult(hits, answered)
