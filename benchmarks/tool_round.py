"""Server time per tool round, the tool's own run and the model excluded.

A persisted turn (SQLite chat store, real ``TurnStore``, ``EventHub``, ``TaskRegistry``,
``ToolRegistry``, ``Generation`` and ``ToolLoop``) runs against an upstream that answers
instantly: an in-process provider that yields the scripted chunks of a native tool call
(``tool_calls`` deltas, arguments in two pieces, ``finish_reason: tool_calls``) without any
I/O, so the model costs nothing. The tool is a no-op (``noop``: returns at once). A round's
server time is the gap between the end of one upstream stream (its last chunk read) and the
start of the next request (``provider.stream`` called with the next body): parsing the
call, the records (two UPDATEs of the message row, in a thread), the ``tool:call`` frames,
the registry's argument check and timeout, and building the next request.

Usage: python benchmarks/tool_round.py [ROUNDS=400] [ROUNDS_PER_TURN=8]
Goal: p50 <= 5 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class NoopTool:
    name = "noop"
    description = "Does nothing."
    parameters = {"type": "object", "properties": {"x": {"type": "integer"}}}  # noqa: RUF012
    requires_approval = False

    async def run(self, args: dict[str, Any], context: Any) -> Any:
        from oui_jupyter.tools.base import ToolResult

        return ToolResult("ok")


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class InstantProvider:
    """Answers each request at once: a tool call while rounds are left, then text."""

    label = "instant"
    connection = None

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.ended: float | None = None
        self.gaps: list[float] = []

    async def stream(self, body: dict[str, Any]) -> Any:
        now = time.perf_counter()
        if self.ended is not None:
            self.gaps.append(now - self.ended)
        done = sum(1 for m in body["messages"] if m.get("tool_calls"))
        if done < self.rounds:
            call = {"index": 0, "id": f"call_{done}", "type": "function"}
            chunks = [
                chunk({"role": "assistant", "content": ""}),
                chunk({"tool_calls": [{**call, "function": {"name": "noop", "arguments": ""}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
                chunk({}, "tool_calls"),
            ]
        else:
            chunks = [chunk({"content": "done"}), chunk({}, "stop")]
        for data in chunks:
            yield json.dumps(data).encode(), data
        self.ended = time.perf_counter() if done < self.rounds else None


async def run(total: int, per_turn: int) -> list[float]:
    from oui_jupyter.services.approvals import Approvals
    from oui_jupyter.services.chats import ChatService
    from oui_jupyter.services.completions import CompletionService, Generation, _empty_answer
    from oui_jupyter.services.events import EventHub
    from oui_jupyter.services.models import ResolvedModel
    from oui_jupyter.services.tasks import TaskRegistry
    from oui_jupyter.services.tool_loop import ToolSettings
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store import migrate
    from oui_jupyter.store.chats import ChatStore, NewMessage
    from oui_jupyter.store.db import Database
    from oui_jupyter.store.folders import FolderStore
    from oui_jupyter.store.tags import TagStore
    from oui_jupyter.store.turns import TurnStore
    from oui_jupyter.store.users import UserStore
    from oui_jupyter.tools.registry import ToolRegistry

    workdir = tempfile.mkdtemp(prefix="oui-tool-round-")
    db = Database(f"sqlite:///{workdir}/bench.db")
    migrate.upgrade(db.engine)
    hub, tasks = EventHub(10.0), TaskRegistry()
    chats = ChatService(ChatStore(db), TagStore(db), FolderStore(db), hub=hub)
    turns = TurnStore(db)

    class Models:
        local = None

    service = CompletionService(
        models=Models(),  # type: ignore[arg-type]
        chats=chats,
        turns=turns,
        hub=hub,
        registry=tasks,
    )
    service.tools = ToolSettings(
        registry=ToolRegistry([NoopTool()], entry_points=False),
        approvals=Approvals(),
        root_dir=workdir,
        max_rounds=per_turn + 1,
    )
    user = UserInfo("bench", "bench", "Bench", "user", ())
    UserStore(db).upsert(user.id, name=user.name, display_name="Bench", role="user", groups=[])
    plan = service.tools.plan(user, ["noop"], "native", None)
    chat_id = chats.create(user, {"title": "bench", "models": ["m"]}).id
    gaps: list[float] = []
    turn = 0
    while len(gaps) < total:
        provider = InstantProvider(per_turn)
        model = ResolvedModel(id="m", upstream_id="m", provider=provider)  # type: ignore[arg-type]
        user_id, answer_id = f"u{turn}", f"a{turn}"
        turns.insert_turn(
            chat_id,
            [
                NewMessage(id=user_id, role="user", content="go", parent_id=None, extra={}),
                _empty_answer(answer_id, user_id, "m"),
            ],
            current_message_id=answer_id,
        )
        body = plan.prepare({"model": "m", "messages": [{"role": "user", "content": "go"}]})
        generation = Generation(
            service,
            user=user,
            model=model,
            body=body,
            chat_id=chat_id,
            user_message_id=user_id,
            message_id=answer_id,
            tools=plan,
        )
        await generation.run()
        assert generation.error is None and generation.text() == "done", generation.error
        assert len(generation.tool_calls) == per_turn
        gaps.extend(provider.gaps)
        turn += 1
    db.dispose()
    return gaps[:total]


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    per_turn = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    gaps = [g * 1000 for g in asyncio.run(run(total, per_turn))]
    ordered = sorted(gaps)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(__doc__.split("\n\n")[0])
    print(
        f"rounds={len(gaps)} ({per_turn} per turn, persisted on SQLite, no-op tool, instant "
        f"upstream): p50 {p50:.3f} ms, p99 {p99:.3f} ms, mean {statistics.fmean(gaps):.3f} ms"
    )
    print(json.dumps({"rounds": len(gaps), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3)}))


if __name__ == "__main__":
    main()
