"""Checkpoints of an answer being written: one UPDATE of its row while it streams (every turn
path), the final write winning over a late checkpoint, one write in flight at a time, and the
marking of the answers a dead server left unfinished."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, text
from support.polling import eventually

from chat.helpers import frames_until, is_done, scripted_settings, services_of, sse_text
from oui_jupyter.services.checkpoints import Checkpoints, DeadAnswerSweep
from oui_jupyter.store import migrate
from oui_jupyter.store.chats import ChatStore, NewMessage
from oui_jupyter.store.db import Database
from oui_jupyter.store.turns import TurnStore
from oui_jupyter.store.users import UserStore

pytestmark = pytest.mark.storage  # answers are saved: SQLite and PostgreSQL

SLOW = {"x_chunks": 60, "x_delay": 0.05}
FULL = "".join(f"tok{i} " for i in range(SLOW["x_chunks"]))


# ----- the store: what one checkpoint writes -----
def open_store(url: str) -> tuple[Database, TurnStore]:
    db = Database(url)
    migrate.upgrade(db.engine)
    UserStore(db).upsert("alice", name="alice", display_name="alice", role="user", groups=[])
    return db, TurnStore(db)


def chat_with_answer(db: Database, turns: TurnStore, chat_id: str = "c1", messages: int = 6) -> str:
    """A chat of ``messages`` finished messages, then an answer being written: its id."""
    rows, parent = [], None
    for i in range(messages):
        rows.append(
            NewMessage(
                id=f"m{i}",
                role="user" if i % 2 == 0 else "assistant",
                content=f"message {i}",
                parent_id=parent,
            )
        )
        parent = f"m{i}"
    ChatStore(db).create_chat(
        chat_id=chat_id, user_id="alice", title="t", messages=rows, current_message_id=parent
    )
    turns.insert_turn(
        chat_id,
        [
            NewMessage(id="u", role="user", content="Count", parent_id=parent),
            NewMessage(
                id="a", role="assistant", content="", parent_id="u", model="slow", done=False
            ),
        ],
        current_message_id="a",
    )
    return "a"


def snapshot(db: Database) -> dict[str, Any]:
    """Every row of chat and chat_message, with PostgreSQL's ``xmin`` (a new one per write)."""
    version = ", xmin::text" if db.dialect == "postgresql" else ""
    with db.engine.connect() as conn:
        messages = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                text(
                    f"SELECT id, content, done, extra, updated_at{version} FROM chat_message ORDER BY id"
                )
            )
        }
        chats = [
            tuple(r)
            for r in conn.execute(
                text(f"SELECT id, title, updated_at, current_message_id{version} FROM chat")
            )
        ]
    return {"messages": messages, "chats": chats}


def test_a_checkpoint_is_one_update_of_one_row(oui_database_url: str) -> None:
    db, turns = open_store(oui_database_url)
    answer = chat_with_answer(db, turns)
    statements: list[str] = []
    if db.dialect == "sqlite":
        # A fresh pool: every connection from now on reports each statement it runs.
        db.engine.dispose()
        event.listen(
            db.engine, "connect", lambda conn, _: conn.set_trace_callback(statements.append)
        )
    before = snapshot(db)
    statements.clear()
    assert turns.checkpoint_message("c1", answer, "tok0 tok1 ") is True
    written = [s for s in statements if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    after = snapshot(db)
    if db.dialect == "sqlite":
        assert len(written) == 1 and written[0].upper().startswith("UPDATE CHAT_MESSAGE"), written
        assert "WHERE" in written[0].upper()
    assert after["chats"] == before["chats"]  # the chat row is not rewritten, nor touched
    changed = {k for k in before["messages"] if before["messages"][k] != after["messages"][k]}
    assert changed == {answer}
    content, done = after["messages"][answer][:2]
    assert content == "tok0 tok1 " and not done
    # A heartbeat (no new text) only stamps the row: one UPDATE again, the text as it was.
    statements.clear()
    time.sleep(0.01)
    assert turns.checkpoint_message("c1", answer, None) is True
    written = [s for s in statements if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    stamped = snapshot(db)
    if db.dialect == "sqlite":
        assert len(written) == 1 and written[0].upper().startswith("UPDATE CHAT_MESSAGE"), written
        assert "CONTENT" not in written[0].upper()
    assert stamped["chats"] == before["chats"]
    assert {k for k in after["messages"] if after["messages"][k] != stamped["messages"][k]} == {
        answer
    }
    assert stamped["messages"][answer][:3] == after["messages"][answer][:3]  # content, done, extra
    assert stamped["messages"][answer][3] > after["messages"][answer][3]  # updated_at
    db.dispose()


def test_the_final_write_wins_over_a_late_checkpoint(oui_database_url: str) -> None:
    db, turns = open_store(oui_database_url)
    answer = chat_with_answer(db, turns)
    assert turns.checkpoint_message("c1", answer, "tok0 ")
    turns.finish_message("c1", answer, "tok0 tok1 tok2 ", {"usage": {"total_tokens": 3}})
    assert turns.checkpoint_message("c1", answer, "tok0 tok1 ") is False  # landed after the end
    assert turns.checkpoint_message("c1", "nope", "x") is False
    row = turns.message("c1", answer)
    assert row is not None and row.done is True and row.content == "tok0 tok1 tok2 "
    db.dispose()


def test_answers_left_unfinished_are_marked_once_nobody_writes_them(oui_database_url: str) -> None:
    db, turns = open_store(oui_database_url)
    answer = chat_with_answer(db, turns)  # written "now": too fresh to judge
    turns.checkpoint_message("c1", answer, "tok0 tok1 ")
    ChatStore(db).create_chat(
        chat_id="c2",
        user_id="alice",
        title="old",
        messages=[
            NewMessage(id="u", role="user", content="Hi"),
            NewMessage(id="a", role="assistant", content="half an ans", parent_id="u", done=False),
        ],
        current_message_id="a",
    )
    with db.engine.begin() as conn:  # c2's answer was last written a minute ago
        conn.execute(
            text("UPDATE chat_message SET updated_at = :t WHERE chat_id = 'c2'"),
            {"t": time.time() - 60},
        )
    hub = RecordingHub()
    sweep = DeadAnswerSweep(turns, hub, stale_after=0.4)  # type: ignore[arg-type]
    assert sweep.at_start() == 1
    old = turns.message("c2", "a")
    assert (
        old is not None
        and old.done
        and old.extra["interrupted"] is True
        and old.content == "half an ans"
    )
    fresh = turns.message("c1", answer)
    assert fresh is not None and fresh.done is False
    # Still unwritten when checked again: marked, and its owner's sockets are told.
    time.sleep(0.5)
    marked = asyncio.run(sweep.recheck())
    assert [(m.chat_id, m.id) for m in marked] == [("c1", answer)]
    row = turns.message("c1", answer)
    assert (
        row is not None
        and row.done
        and row.extra == {"interrupted": True}
        and row.content == "tok0 tok1 "
    )
    assert hub.frames == [
        (
            "alice",
            "chat:completion",
            {"done": True, "content": "tok0 tok1 ", "interrupted": True},
            "c1",
            answer,
        )
    ]
    # The final write of a continued answer clears the mark.
    turns.reopen_message("c1", answer)
    turns.finish_message("c1", answer, "tok0 tok1 tok2 ", {})
    row = turns.message("c1", answer)
    assert row is not None and row.done and "interrupted" not in row.extra
    db.dispose()


def test_an_answer_being_written_is_never_marked(oui_database_url: str) -> None:
    db, turns = open_store(oui_database_url)
    answer = chat_with_answer(db, turns)
    sweep = DeadAnswerSweep(turns, RecordingHub(), stale_after=0.4)  # type: ignore[arg-type]
    assert sweep.at_start() == 0
    time.sleep(0.3)
    assert turns.checkpoint_message("c1", answer, "tok0 ")  # its writer is alive
    time.sleep(0.2)  # the start was > stale_after ago, the last checkpoint is not
    assert asyncio.run(sweep.recheck()) == []
    row = turns.message("c1", answer)
    assert row is not None and row.done is False and "interrupted" not in row.extra
    db.dispose()


def test_a_team_service_sweeps_answers_a_crashed_replica_left(oui_database_url: str) -> None:
    """Replicas never restart to sweep at start: the periodic sweep marks an answer whose
    writer died after this replica started, and leaves one still being written alone."""
    db, turns = open_store(oui_database_url)
    hub = RecordingHub()
    sweep = DeadAnswerSweep(turns, hub, stale_after=0.3)  # type: ignore[arg-type]
    assert sweep.at_start() == 0  # nothing to mark yet: the other replica is alive

    async def scenario() -> None:
        sweep.run_periodically(0.2)
        chat_with_answer(db, turns, "dead")  # its replica dies now: never written again
        chat_with_answer(db, turns, "alive")
        for _ in range(8):  # the alive one's replica checkpoints it every 0.1 s
            await asyncio.sleep(0.1)
            assert turns.checkpoint_message("alive", "a", "tok ")
        sweep.stop()

    asyncio.run(scenario())
    dead, alive = turns.message("dead", "a"), turns.message("alive", "a")
    assert dead is not None and dead.done and dead.extra == {"interrupted": True}
    assert alive is not None and alive.done is False
    assert [(f[1], f[3]) for f in hub.frames] == [("chat:completion", "dead")]
    db.dispose()


class RecordingHub:
    def __init__(self) -> None:
        self.frames: list[tuple[Any, ...]] = []

    def emit(
        self,
        user_id: str,
        type_: str,
        data: Any,
        *,
        chat_id: str | None = None,
        message_id: str | None = None,
    ) -> None:
        self.frames.append((user_id, type_, data, chat_id, message_id))


# ----- the checkpointer: one write in flight, heartbeats, stop -----
class SlowTurns:
    """A store whose checkpoint write takes ``seconds`` in its thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.in_flight = 0
        self.most_in_flight = 0
        self.writes: list[str] = []
        self.answer_done = False
        self._lock = threading.Lock()

    def checkpoint_message(self, chat_id: str, message_id: str, content: str | None) -> bool:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.seconds)
        with self._lock:
            self.in_flight -= 1
            self.writes.append(content)
        return not self.answer_done


class GrowingAnswer:
    chat_id = "c"
    message_id = "m"

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add(self, token: str) -> None:
        self.parts.append(token)
        self.length += len(token)

    def text(self) -> str:
        return "".join(self.parts)


async def test_one_checkpoint_in_flight_and_none_after_stop() -> None:
    store = SlowTurns(0.12)
    checkpoints = Checkpoints(store, 0.02)  # type: ignore[arg-type]
    answer = GrowingAnswer()
    checkpointer = checkpoints.start(answer)
    assert checkpointer is not None
    saves = []
    for i in range(30):  # tokens every 10 ms; a write takes 12 intervals
        answer.add(f"tok{i} ")
        if i % 10 == 0:
            saves.append(asyncio.ensure_future(checkpointer.save()))  # a tool step saves meanwhile
        await asyncio.sleep(0.01)
    await eventually(lambda: len(store.writes) >= 2)
    assert store.most_in_flight == 1
    assert all(w is None or answer.text().startswith(w) for w in store.writes)
    checkpointer.stop()
    await asyncio.sleep(0.3)
    count = len(store.writes)
    await asyncio.sleep(0.2)
    assert len(store.writes) == count and store.in_flight == 0
    # An answer that does not grow is still stamped now and then (its row stays fresh).
    store = SlowTurns(0.0)
    idle = GrowingAnswer()
    checkpointer = Checkpoints(store, 0.02).start(idle)  # type: ignore[arg-type]
    await eventually(lambda: len(store.writes) >= 2, timeout=5)
    assert set(store.writes) == {None}
    checkpointer.stop()  # type: ignore[union-attr]
    # A write that finds the answer finished ends the checkpoints.
    store.answer_done, store.writes = True, []
    late = Checkpoints(store, 0.02).start(idle)  # type: ignore[arg-type]
    assert late is not None
    idle.add("x")
    await eventually(lambda: len(store.writes) == 1, timeout=5)
    idle.add("y")
    await asyncio.sleep(0.2)
    assert len(store.writes) == 1
    late.stop()
    assert Checkpoints(store, 0).start(idle) is None  # type: ignore[arg-type]


# ----- through the server: every turn path checkpoints -----
@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url, checkpoint_interval=0.1)


async def start_turn(api: Any, path: str, chat_id: str) -> asyncio.Future[Any]:
    """Start a slow answer by ``path``; the future is the HTTP answer (at once for live)."""
    if path == "message":
        call = api(
            "POST",
            f"v1/chats/{chat_id}/message",
            {"content": "Count", "model": "slow", "stream": True, "params": SLOW},
        )
    else:
        body = {
            "model": "slow",
            "chat_id": chat_id,
            "messages": [{"role": "user", "content": "Count"}],
            "stream": path != "nonstream",
            **SLOW,
        }
        if path == "live":
            body["session_id"] = "s"
        call = api("POST", "chat/completions", body)
    return asyncio.ensure_future(call)


@pytest.mark.parametrize("path", ["live", "stream", "nonstream", "message"])
async def test_every_turn_path_checkpoints_its_answer(
    path: str, api: Any, new_chat: Any, ws_connect: Any, jp_serverapp: Any
) -> None:
    ws = await ws_connect()
    chat_id = await new_chat(model="slow")
    reply = await start_turn(api, path, chat_id)
    services = await jp_serverapp.web_app.settings["oui_runtime"].ready()
    turns = services.completions.turns
    started = await frames_until(
        ws, lambda f: f.get("type") == "chat:completion" and f.get("chat_id") == chat_id
    )
    message_id = started[-1]["message_id"]

    def stored() -> Any:
        return turns.message(chat_id, message_id)

    # The row itself (not the live overlay) holds the text so far while the answer streams.
    row = await eventually(
        lambda: (r := stored()) is not None and not r.done and len(r.content.split()) >= 5 and r
    )
    assert FULL.startswith(row.content)
    with services.db.engine.connect() as conn:
        chat_time = conn.execute(
            text("SELECT updated_at FROM chat WHERE id = :c"), {"c": chat_id}
        ).scalar()
    grown = await eventually(
        lambda: (
            (r := stored()) is not None and not r.done and len(r.content) > len(row.content) and r
        )
    )
    assert FULL.startswith(grown.content)
    with services.db.engine.connect() as conn:  # checkpoints leave the chat row alone
        assert (
            conn.execute(text("SELECT updated_at FROM chat WHERE id = :c"), {"c": chat_id}).scalar()
            == chat_time
        )
    response = await reply
    assert response.code == 200, response.body
    if path == "live":
        await frames_until(ws, is_done(message_id))
    elif path == "stream":
        assert sse_text(response.body) == FULL
    elif path == "nonstream":
        assert response.json()["choices"][0]["message"]["content"] == FULL
    final = stored()
    assert final is not None and final.done is True and final.content == FULL
    assert "interrupted" not in final.extra
    ws.close()


async def test_continue_checkpoints_into_the_same_message(
    api: Any, new_chat: Any, jp_serverapp: Any
) -> None:
    chat_id = await new_chat(model="slow")
    first = await api(
        "POST",
        "chat/completions",
        {"model": "fast", "chat_id": chat_id, "messages": [{"role": "user", "content": "Count"}]},
    )
    assert first.code == 200, first.body
    answer_id = first.json()["message_id"]
    prefix = first.json()["choices"][0]["message"]["content"]
    reply = asyncio.ensure_future(
        api(
            "POST",
            "chat/completions",
            {
                "model": "slow",
                "chat_id": chat_id,
                "parent_id": answer_id,
                "continue": True,
                "stream": True,
                "messages": [
                    {"role": "user", "content": "Count"},
                    {"role": "assistant", "content": prefix},
                ],
                **SLOW,
            },
        )
    )
    turns = services_of(jp_serverapp).completions.turns
    row = await eventually(
        lambda: (
            (r := turns.message(chat_id, answer_id)) is not None
            and not r.done
            and len(r.content) > len(prefix) + 10
            and r
        )
    )
    assert row.content.startswith(prefix + "tok0 ")
    assert (await reply).code == 200
    final = turns.message(chat_id, answer_id)
    assert final is not None and final.done and final.content == prefix + FULL
