"""The relevance bar of workspace retrieval, on a fixed question set.

A small project (tests/retrieval/data/relevance/workspace: notes, code, a notebook, CSVs) and
questions about it (questions.json), some the workspace can answer (with the files that
answer them) and some it cannot (general knowledge, generic code, chit-chat, near misses).
Each question is asked as a chat turn with ``features.workspace`` (``rag_context``, top 5)
with the real all-MiniLM-L6-v2:

* the bar is chosen on the ``calibration`` half (``choose``): the lowest relevance (and, for
  hits without a cosine, coverage) that blocks as many unanswerable questions as any bar that
  loses no correct top-1 source;
* the ``heldout`` half is reported: the share of unanswerable questions that still got
  sources, without the bar (before) and with the default bar (after), and top-1 accuracy
  (the first source is a file that answers) on the answerable ones.

Also with the keyword retriever alone (the embedding model still loading).

    python benchmarks/retrieval_relevance.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from oui_jupyter.providers.embeddings import SentenceTransformerEmbeddings
from oui_jupyter.services.retrieval.defaults import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_RELEVANCE
from oui_jupyter.services.retrieval.relevance import (
    KEYWORD_WEIGHT,
    RelevanceBar,
    coverage,
    query_terms,
    relevance,
    similarity,
)
from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
from oui_jupyter.store.index_types import Hit

DATA = Path(__file__).resolve().parent.parent / "tests" / "retrieval" / "data" / "relevance"
TOP_K = 5


@dataclass
class Asked:
    question: str
    answers: list[str]  # files that answer it; [] = the workspace cannot
    split: str
    hits: dict[str, list[Hit]]  # mode -> the top TOP_K hits, before any bar
    weights: dict[str, float]  # the index's idf of the question's terms


def questions() -> list[dict]:
    return json.loads((DATA / "questions.json").read_text())["questions"]


def service(root: Path, data_dir: Path, emb: SentenceTransformerEmbeddings) -> RetrievalService:
    shutil.copytree(DATA / "workspace", root)
    cfg = RetrievalConfig(
        root_dir=str(root), data_dir=str(data_dir), index_start_delay=0, index_poll_interval=0
    )
    svc = RetrievalService(cfg)
    svc.embedder = svc.indexer.embedder = emb
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(300, embedded=True), svc.status()
    return svc


def ask_all(svc: RetrievalService) -> list[Asked]:
    flt = svc.resolve_filter(["workspace"])
    out = []
    for q in questions():
        hits = {
            mode: svc.search(q["question"], k=TOP_K, flt=flt, mode=mode).hits
            for mode in ("hybrid", "keyword")
        }
        weights = svc.store.term_weights(q["question"])  # type: ignore[attr-defined]
        out.append(Asked(q["question"], q["sources"], q["split"], hits, weights))
    return out


def outcome(asked: list[Asked], mode: str, bar: RelevanceBar) -> dict[str, float]:
    """Share of unanswerable questions with sources; top-1 accuracy on answerable ones."""
    leaked = correct = n_un = n_ans = 0
    for a in asked:
        kept = bar.keep(a.hits[mode], a.question, weights=a.weights)
        if not a.answers:
            n_un += 1
            leaked += bool(kept)
        else:
            n_ans += 1
            correct += bool(kept) and kept[0].meta["source"] in a.answers
    return {
        "unanswerable_with_sources": leaked / max(n_un, 1),
        "top1": correct / max(n_ans, 1),
        "n_unanswerable": n_un,
        "n_answerable": n_ans,
    }


def choose(asked: list[Asked], mode: str, make: Callable[[float], RelevanceBar]) -> float:
    """The lowest bar that blocks as many unanswerable questions of ``asked`` as any bar
    that keeps every correct top-1 source: a lost answer costs more than a weak source
    (the RAG template tells the model to answer on its own when the context does not help)."""
    base = outcome(asked, mode, RelevanceBar(0.0, 0.0))["top1"]
    grid = [i / 100 for i in range(1, 150)]
    ok = [(t, outcome(asked, mode, make(t))) for t in grid]
    ok = [(t, r) for t, r in ok if r["top1"] >= base]
    best = min(r["unanswerable_with_sources"] for _, r in ok)
    return min(t for t, r in ok if r["unanswerable_with_sources"] == best)


def describe(asked: list[Asked]) -> None:
    """Each question's best hybrid hit by relevance, its cosine and coverage, and the best
    coverage of the keyword retriever alone."""
    print("\n| split | question | top-1 (hybrid) | best relevance | its cosine, coverage |", end="")
    print(" keyword only: best coverage |\n|---|---|---|---|---|---|")
    for a in sorted(asked, key=lambda a: (bool(a.answers), a.split)):
        hits = a.hits["hybrid"]
        terms = query_terms(a.question, a.weights)
        top = hits[0].meta["source"] if hits else "-"
        best = max(hits, key=lambda h: relevance(h, terms) or 0.0)
        kw = max((coverage(h, terms) for h in a.hits["keyword"]), default=0.0)
        mark = "unanswerable" if not a.answers else ("ok" if top in a.answers else "WRONG")
        print(
            f"| {a.split[:5]} | {a.question} | {top} ({mark}) | "
            f"{relevance(best, terms) or 0.0:.2f} | {similarity(best) or 0.0:.2f}, "
            f"{coverage(best, terms):.2f} | {kw:.2f} |"
        )


def main() -> None:
    verbose = "-v" in sys.argv
    emb = SentenceTransformerEmbeddings()
    emb.start_loading()
    assert emb.wait_ready(300), emb.error
    with tempfile.TemporaryDirectory() as tmp:
        svc = service(Path(tmp) / "root", Path(tmp) / "data", emb)
        try:
            asked = ask_all(svc)
            # the real turn path agrees with the recorded hits and the default bar
            for a in asked:
                ctx = svc.rag_context(a.question, [], {"workspace": True})
                kept = svc.relevant(a.hits["hybrid"], a.question)
                assert [s["path"] for s in ctx.sources] == [h.meta["source"] for h in kept]
            off = replace(svc.config, rag_relevance_threshold=0.0)
            svc.config = off
            assert all(svc.rag_context(a.question, [], {"workspace": True}).sources for a in asked)
        finally:
            svc.stop()
    cal = [a for a in asked if a.split == "calibration"]
    held = [a for a in asked if a.split == "heldout"]
    cov = choose(cal, "keyword", lambda t: RelevanceBar(1.0, t))
    sim = choose(cal, "hybrid", lambda t: RelevanceBar(t, cov))
    if verbose:
        describe(asked)
    print(
        f"\n{len(cal)} calibration / {len(held)} held-out questions, top {TOP_K}, "
        f"{emb.model_id}; relevance = cosine + {KEYWORD_WEIGHT} * coverage; chosen on "
        f"calibration: relevance >= {sim}, coverage alone >= {cov} "
        f"(defaults: {DEFAULT_MIN_RELEVANCE}, {DEFAULT_MIN_COVERAGE})"
    )
    rows = {
        "hybrid, no bar (before)": ("hybrid", RelevanceBar(0.0, 0.0)),
        "hybrid, default bar (after)": (
            "hybrid",
            RelevanceBar(DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_COVERAGE),
        ),
        "keyword only, no bar (before)": ("keyword", RelevanceBar(0.0, 0.0)),
        "keyword only, default bar (after)": (
            "keyword",
            RelevanceBar(DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_COVERAGE),
        ),
    }
    report = {}
    for split, group in (("heldout", held), ("calibration", cal)):
        print(f"\n{split}:\n\n| retrieval | unanswerable with sources | top-1 on answerable |")
        print("|---|---|---|")
        for name, (mode, bar) in rows.items():
            r = outcome(group, mode, bar)
            report[f"{split}/{name}"] = r
            print(
                f"| {name} | {r['unanswerable_with_sources']:.0%} of {r['n_unanswerable']} "
                f"| {r['top1']:.0%} of {r['n_answerable']} |"
            )
    print("\n" + json.dumps({"chosen": {"relevance": sim, "coverage": cov}, **report}))


if __name__ == "__main__":
    main()
