"""The relevance bar: which workspace hits a chat turn may show the model.

Hybrid search ranks, but its fused score is relative to the other hits of the same query
(each retriever's scores are min-max scaled), so the best hit of any query scores about 1
however weak it is. The bar is on scores that mean the same whatever the query:

* ``similarity``: the cosine similarity of the hit's embedding to the query's (the vector
  retriever's raw score, ``meta["vector_score"]``);
* ``coverage``: the share of the query's terms found in the hit's text or path, each term
  weighted by its idf in the index (a word no file holds weighs most; question words such as
  "how" or "does" are left out), so "install" in "How do I install the project?" counts and
  "function" in "write a function that reverses a string" barely does.

A hit's ``relevance`` is ``similarity + KEYWORD_WEIGHT * coverage``; a hit the vector
retriever did not score (the embedding model still loading, or a hit beyond its candidates)
is judged on its coverage alone. Either score alone separates poorly on small workspaces (an
answerable "How do I install the project?" has a cosine of 0.10 with the README, "Explain
the difference between a list and a tuple" 0.41 with unrelated code). ``KEYWORD_WEIGHT`` and
the defaults were chosen on a fixed question set with questions the workspace cannot answer
(``benchmarks/retrieval_relevance.py``), for all-MiniLM-L6-v2: another embedding model has
other cosines, and may want another ``rag_relevance_threshold``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ...store.index_types import Hit
from ...store.keyword_index import tokenize
from .defaults import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_RELEVANCE

#: what a turn's status says when the workspace was searched and nothing cleared the bar
NO_MATCH_NOTE = "No workspace file matched this question"
#: the weight of keyword coverage against the cosine in a hit's relevance
KEYWORD_WEIGHT = 0.5
#: words of a question that say nothing of its topic (as the keyword index spells them)
QUESTION_WORDS = frozenset(
    "how do doe did why can could would should about many much tell please explain give "
    "show".split()
)


def similarity(hit: Hit) -> float | None:
    """The hit's cosine similarity to the query, or None when the vector retriever did not
    score it."""
    value = hit.meta.get("vector_score")
    return float(value) if isinstance(value, (int, float)) else None


def query_terms(query: str, weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """The query's topic terms and their weights (``weights``: the index's idf; else 1)."""
    return {
        t: (weights.get(t, 1.0) if weights else 1.0)
        for t in tokenize(query)
        if t not in QUESTION_WORDS
    }


def coverage(hit: Hit, terms: Mapping[str, float]) -> float:
    """Weighted share of ``terms`` (``query_terms``) in the hit's text or source path."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    found = set(tokenize(f"{hit.text}\n{hit.meta.get('source', '')}"))
    return sum(w for t, w in terms.items() if t in found) / total


def relevance(hit: Hit, terms: Mapping[str, float]) -> float | None:
    """``similarity + KEYWORD_WEIGHT * coverage``; None without a similarity."""
    sim = similarity(hit)
    return None if sim is None else sim + KEYWORD_WEIGHT * coverage(hit, terms)


@dataclass(frozen=True)
class RelevanceBar:
    """``min_relevance``: the ``relevance`` a hit needs (0: every hit passes);
    ``min_coverage``: the coverage a hit without a similarity needs."""

    min_relevance: float = DEFAULT_MIN_RELEVANCE
    min_coverage: float = DEFAULT_MIN_COVERAGE

    @property
    def off(self) -> bool:
        return self.min_relevance <= 0.0

    def passes(self, hit: Hit, terms: Mapping[str, float]) -> bool:
        score = relevance(hit, terms)
        if score is not None:
            return score >= self.min_relevance
        return coverage(hit, terms) >= self.min_coverage

    def keep(
        self,
        hits: Sequence[Hit],
        query: str,
        exempt: Callable[[Hit], bool] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> list[Hit]:
        """The hits that clear the bar, in their order; ``exempt`` hits (ones the user named:
        a file, a folder, a collection) are kept whatever their scores. ``weights``: the
        index's idf of the query's terms (``term_weights``)."""
        if self.off:
            return list(hits)
        terms = query_terms(query, weights)
        return [h for h in hits if (exempt is not None and exempt(h)) or self.passes(h, terms)]
