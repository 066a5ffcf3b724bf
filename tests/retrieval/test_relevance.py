"""The relevance bar: a turn over the whole workspace shows the model only passages that
clear it, and says so when none does.

The fixed set (data/relevance: a small project and questions about it, some it cannot answer)
is asked with the real all-MiniLM-L6-v2 and the default bar; the bar was chosen on its
calibration half (benchmarks/retrieval_relevance.py), the assertions hold on both halves."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat.unit import ALICE, FakeModels, FakeProvider, chat_service, open_database

from oui_jupyter.services.completions import CompletionService, TurnOptions
from oui_jupyter.services.events import EventHub
from oui_jupyter.services.retrieval.relevance import (
    KEYWORD_WEIGHT,
    NO_MATCH_NOTE,
    RelevanceBar,
    coverage,
    query_terms,
    relevance,
)
from oui_jupyter.services.retrieval.service import RetrievalConfig, RetrievalService
from oui_jupyter.services.tasks import TaskRegistry
from oui_jupyter.store.index_types import Hit
from oui_jupyter.store.turns import TurnStore

DATA = Path(__file__).parent / "data" / "relevance"
QUESTIONS = json.loads((DATA / "questions.json").read_text())["questions"]
ANSWERABLE = [q for q in QUESTIONS if q["sources"]]
UNANSWERABLE = [q for q in QUESTIONS if not q["sources"]]
#: unanswerable questions that may still get sources (of 22): near misses of the project's
#: own topics ("the top speed of a peregrine falcon" in a project about peregrine falcons,
#: "the weather in Lisbon" beside notes on the Lisbon observatory); 3 do today
MARGIN = 4


def hit(text: str, sim: float | None = None, **meta: Any) -> Hit:
    meta = {"collection": "workspace", "source": "a.md", **meta}
    if sim is not None:
        meta["vector_score"] = sim
    return Hit(0, text, meta, 1.0, ["vector"] if sim is not None else ["keyword"])


def test_relevance_is_the_cosine_plus_half_the_weighted_coverage():
    question = "Which battery supplier did we choose?"  # terms: battery, supplier, choose
    terms = query_terms(question)
    assert set(terms) == {"battery", "supplier", "choose"}  # "did" says nothing of the topic
    strong, weak, worded = hit("falcon", 0.55), hit("string helpers", 0.12), hit("", 0.30)
    worded.text = "We choose a new battery supplier."
    assert relevance(strong, terms) == 0.55 and relevance(weak, terms) == 0.12
    assert relevance(worded, terms) == pytest.approx(0.30 + KEYWORD_WEIGHT)
    no_cosine = [hit("battery supplier Voltaic"), hit("battery")]
    bar = RelevanceBar(0.47, 0.44)
    kept = bar.keep([strong, weak, worded, *no_cosine], question)
    assert kept == [strong, worded, no_cosine[0]]  # coverage 2/3 passes, 1/3 does not
    # idf weights: a word every file holds counts for little
    weights = {"battery": 0.1, "supplier": 0.1, "choose": 3.0}
    assert coverage(no_cosine[0], query_terms(question, weights)) == pytest.approx(0.2 / 3.2)
    assert bar.keep(no_cosine, question, weights=weights) == []
    assert RelevanceBar(0.0, 0.44).keep([weak], question) == [weak]  # 0: no bar


def test_named_hits_are_kept_whatever_their_scores():
    bar = RelevanceBar(0.47, 0.44)
    hits = [hit("weak", 0.05, source="notes.md"), hit("weak too", 0.05, source="other.md")]
    kept = bar.keep(hits, "q", lambda h: h.meta["source"] == "notes.md")
    assert [h.meta["source"] for h in kept] == ["notes.md"]


@pytest.fixture(scope="module")
def falcon(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Iterator[RetrievalService]:
    tmp = tmp_path_factory.mktemp("relevance")
    shutil.copytree(DATA / "workspace", tmp / "root")
    cfg = RetrievalConfig(
        root_dir=str(tmp / "root"),
        data_dir=str(tmp / "data"),
        index_start_delay=0,
        index_poll_interval=0,
    )
    svc = RetrievalService(cfg)
    svc.embedder = svc.indexer.embedder = minilm
    svc.start()
    svc.ensure_started()
    assert svc.indexer.wait_idle(120, embedded=True), svc.status()
    yield svc
    svc.stop()


def workspace_turn(svc: RetrievalService, question: str) -> Any:
    return svc.rag_context(question, [], {"workspace": True})


def test_unanswerable_questions_get_no_sources(falcon: RetrievalService):
    leaked = []
    for q in UNANSWERABLE:
        ctx = workspace_turn(falcon, q["question"])
        if ctx.sources:
            leaked.append((q["question"], [s["path"] for s in ctx.sources]))
        else:
            assert ctx.prompt == "" and ctx.note == NO_MATCH_NOTE
    assert len(leaked) <= MARGIN, leaked


def test_answerable_questions_keep_their_top_source(falcon: RetrievalService):
    flt = falcon.resolve_filter(["workspace"])
    lost = []
    for q in ANSWERABLE:
        before = falcon.search(q["question"], flt=flt).hits
        if not before or before[0].meta["source"] not in q["sources"]:
            continue  # wrong without the bar too: the bar cannot lose it
        ctx = workspace_turn(falcon, q["question"])
        if not ctx.sources or ctx.sources[0]["path"] != before[0].meta["source"]:
            lost.append(q["question"])
        else:
            assert ctx.note is None and '<source id="1"' in ctx.prompt
    assert not lost


def test_named_files_and_no_bar(falcon: RetrievalService):
    question = "write a function that reverses a string"
    named = falcon.rag_context(
        question, [{"type": "path", "path": "src/falcon/textutil.py"}], {"workspace": True}
    )
    assert {s["path"] for s in named.sources} == {"src/falcon/textutil.py"}
    assert named.note is None  # a workspace file is used: the one named
    falcon.update_config({"relevance_threshold": 0.0})
    try:
        assert falcon.get_config()["relevance_threshold"] == 0.0
        assert len(workspace_turn(falcon, question).sources) == falcon.config.rag_top_k
    finally:
        falcon.update_config(
            {"relevance_threshold": RetrievalConfig("", "").rag_relevance_threshold}
        )


async def test_a_turn_without_a_match_says_so_and_sends_the_question(tmp_path: Path):
    db = open_database(f"sqlite:///{tmp_path / 'oui.db'}")
    registry, hub = TaskRegistry(), EventHub()
    events: list[tuple[str, dict[str, Any]]] = []
    hub.emit = lambda user_id, kind, data, **kw: events.append((kind, data))  # type: ignore[method-assign]
    provider = FakeProvider("Here is one.")
    completions = CompletionService(
        models=FakeModels(provider),  # type: ignore[arg-type]
        chats=chat_service(db, overlays=[registry.overlay], hub=hub),
        turns=TurnStore(db),
        hub=hub,
        registry=registry,
        context_builder=lambda *args: ("", [], NO_MATCH_NOTE),
    )
    try:
        chat_id = completions.chats.create(ALICE, {"title": "t", "models": ["fake"]}).id
        options = TurnOptions(features={"workspace": True})
        question = "write a function that reverses a string"
        generation = await completions.from_message(ALICE, chat_id, question, None, options)
        await generation.run()
        assert provider.bodies[-1]["messages"][-1] == {"role": "user", "content": question}
        statuses = [data for kind, data in events if kind == "status"]
        assert statuses[-1] == {"description": NO_MATCH_NOTE, "done": True}
        assert not generation.sources
    finally:
        db.dispose()
