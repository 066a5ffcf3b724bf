"""Which memories a turn gets: keyword coverage while no embedding model is loaded (the
model is never asked then), cosine added once it is, vectors made once per memory version
and a few per turn, the system prompt's ``User Context`` block."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np

from oui_jupyter.services import memories as mem
from oui_jupyter.services.memories import MemoryService, context_block, with_system_text
from oui_jupyter.services.users import UserInfo

ALICE = UserInfo("alice", "alice", "Alice", "user", ())


@dataclass
class Row:
    id: str
    content: str
    user_id: str = "alice"
    created_at: int = 1764590400  # 2025-12-01
    updated_at: int = 1764590400


class Store:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def list(self, user_id: str) -> list[Row]:
        return [r for r in self.rows if r.user_id == user_id]


class Embedder:
    """Vectors by topic: texts about colour point one way, travel another."""

    model_id = "fake-model"

    def __init__(self, ready: bool) -> None:
        self.ready = ready
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            t = text.lower()
            out.append(
                [1.0 if ("teal" in t or "hue" in t) else 0.0, 1.0 if "trip" in t else 0.0, 0.1]
            )
        return np.asarray(out, dtype=np.float32)


ROWS = [Row("m1", "My favourite colour is teal"), Row("m2", "Planning a trip to Japan")]


def service(embedder: Embedder | None, settings: dict[str, Any] | None = None) -> MemoryService:
    return MemoryService(Store(ROWS), lambda _uid: settings or {}, embedder=lambda: embedder)


def test_keywords_only_while_the_model_is_cold() -> None:
    cold = Embedder(ready=False)
    found = service(cold).relevant(ALICE, "Which colour do I like?")
    assert [m.id for m in found] == ["m1"]
    assert service(cold).relevant(ALICE, "Which hue suits me?") == []  # no shared word
    assert cold.calls == []  # a cold model is never asked


def test_meaning_counts_once_the_model_is_loaded_and_vectors_are_kept() -> None:
    warm = Embedder(ready=True)
    svc = service(warm)
    assert [m.id for m in svc.relevant(ALICE, "Which hue suits me?")] == ["m1"]
    assert warm.calls == [["Which hue suits me?", ROWS[0].content, ROWS[1].content]]
    svc.relevant(ALICE, "Where is my trip?")
    assert warm.calls[-1] == ["Where is my trip?"]  # the memories' vectors were kept
    ROWS[1].updated_at += 1  # an edited memory is embedded again
    try:
        svc.relevant(ALICE, "trip")
        assert warm.calls[-1] == ["trip", ROWS[1].content]
    finally:
        ROWS[1].updated_at -= 1


def test_a_failing_embedding_engine_leaves_the_keywords() -> None:
    class Failing(Embedder):
        def embed(self, texts: list[str]) -> np.ndarray:
            self.calls.append(list(texts))
            raise RuntimeError("embedding endpoint failed: Connection error.")

    failing = Failing(ready=True)
    svc = service(failing)
    assert [m.id for m in svc.relevant(ALICE, "Which colour do I like?")] == ["m1"]
    assert len(failing.calls) == 1
    svc.relevant(ALICE, "teal")  # the engine rests a while: not asked again
    assert len(failing.calls) == 1
    svc.embedder = lambda: Embedder(ready=True)
    assert svc._cosines(ALICE, [ROWS[0]], "teal") == [None]  # type: ignore[list-item]
    assert svc.query(ALICE, "colour", 2).ids == [["m1", "m2"]]  # the route: no 502


def test_at_most_a_few_vectors_per_turn(monkeypatch: Any) -> None:
    monkeypatch.setattr(mem, "EMBED_PER_TURN", 1)
    warm = Embedder(ready=True)
    svc = service(warm)
    svc.relevant(ALICE, "teal")
    assert warm.calls == [["teal", ROWS[0].content]]
    svc.relevant(ALICE, "teal")
    assert warm.calls[-1] == ["teal", ROWS[1].content]


def test_into_prompt_follows_the_setting_and_the_turns_feature() -> None:
    messages = [{"role": "user", "content": "What colour do I like?"}]
    off = service(None)
    assert asyncio.run(off.into_prompt(ALICE, messages, {})) == messages
    on = service(None, {"ui": {"memory": True}})
    prompt = asyncio.run(on.into_prompt(ALICE, messages, {}))
    assert prompt[0]["role"] == "system" and "My favourite colour is teal" in prompt[0]["content"]
    assert prompt[1:] == messages
    assert asyncio.run(on.into_prompt(ALICE, messages, {"memory": False})) == messages
    assert asyncio.run(off.into_prompt(ALICE, messages, {"memory": True}))[0]["role"] == "system"


def test_the_block_is_open_webuis_user_context() -> None:
    block = context_block([ROWS[0]])  # type: ignore[list-item]
    assert block.startswith("User Context:\n1. [2025-1") and block.endswith("is teal\n")
    merged = with_system_text([{"role": "system", "content": "Be brief."}], block)
    assert merged == [{"role": "system", "content": f"Be brief.\n{block}"}]
