"""Two replicas of the oui team service on one PostgreSQL database (issue #16, "past one
machine"): live events, stops, running turns and settings hold across them, through
PostgreSQL LISTEN/NOTIFY (``oui_jupyter.team.bus``), and the bus outlives its connection.

Real parts: two ``jupyter server`` processes in service mode, the machine's PostgreSQL, a
scripted OpenAI upstream; users come from the test identity provider (standing in for the hub).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.polling import eventually
from support.team_replicas import (
    Replica,
    listener_pids,
    start_replicas,
    terminate_listeners,
)
from support.team_replicas import team_database as fresh_team_database
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

LONG = {"x_chunks": 400, "x_delay": 0.05}


@pytest.fixture(scope="module")
def team_database() -> Iterator[str]:
    with fresh_team_database() as url:
        yield url


@pytest.fixture(scope="module")
def replicas(
    team_database: str, tmp_path_factory: pytest.TempPathFactory, scripted_openai_module: Any
) -> Iterator[list[Replica]]:
    started = start_replicas(
        tmp_path_factory.mktemp("replicas"), team_database, scripted_openai_module.base_url
    )
    yield started
    for replica in started:
        replica.stop()


@pytest.fixture(scope="module")
def scripted_openai_module() -> Iterator[Any]:
    from support.scripted_openai import ScriptedOpenAI

    server = ScriptedOpenAI().start()
    yield server
    server.stop()


async def connect(replica: Replica, user: str = "alice") -> WebSocketClientConnection:
    request = HTTPRequest(replica.events_url, headers={"Authorization": f"token {user}-token"})
    return await websocket_connect(request)


async def frames_until(
    ws: WebSocketClientConnection, predicate: Any, timeout: float = 30.0
) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.read_message(), max(deadline - time.monotonic(), 0.1))
        assert message is not None, "the events socket closed"
        frame = json.loads(message)
        frames.append(frame)
        if predicate(frame):
            return frames


async def settle(ws: WebSocketClientConnection) -> list[dict[str, Any]]:
    """Every frame up to a pong: what the socket got before it answered a ping sent now,
    after waiting long enough for a duplicate from the bus to have come too."""
    await asyncio.sleep(0.5)
    ws.write_message('{"type": "ping"}')
    frames = await frames_until(ws, lambda f: f.get("type") == "pong")
    return frames[:-1]


async def call(
    replica: Replica, method: str, path: str, body: Any = None, user: str = "alice"
) -> tuple[int, Any]:
    return await asyncio.to_thread(replica.call, method, path, body, user)


async def new_chat(replica: Replica, model: str = "fast") -> str:
    status, body = await call(
        replica, "POST", "v1/chats/new", {"chat": {"title": "Team chat", "models": [model]}}
    )
    assert status == 200, body
    return str(body["id"])


async def start_turn(replica: Replica, chat_id: str, model: str, **extra: Any) -> dict[str, Any]:
    status, body = await call(
        replica,
        "POST",
        "chat/completions",
        {
            "model": model,
            "chat_id": chat_id,
            "session_id": "s",
            "messages": [{"role": "user", "content": "Count"}],
            **extra,
        },
    )
    assert status == 200, body
    return dict(body)


def is_done(message_id: str) -> Any:
    return lambda f: (
        f.get("type") == "chat:completion"
        and f.get("message_id") == message_id
        and (f.get("data") or {}).get("done") is True
    )


def deltas_text(frames: list[dict[str, Any]], message_id: str) -> str:
    """The answer the deltas spell; each delta must start where the previous one ended."""
    text = ""
    for frame in frames:
        data = frame.get("data") or {}
        if frame.get("message_id") == message_id and "delta" in data:
            assert data["offset"] == len(text), "a delta was repeated or lost"
            text += data["delta"]
    return text


def test_the_replicas_share_one_database(replicas: list[Replica], team_database: str) -> None:
    """Both replicas listen on the bus (two listener connections on the database)."""
    assert len(replicas) == 2 and replicas[0].port != replicas[1].port
    assert len(listener_pids(team_database)) == 2


async def test_a_message_edited_through_one_replica_reaches_the_other_once(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    on_a, on_b, bobs = await connect(a), await connect(b), await connect(b, "bob")
    chat = {
        "title": "Edited",
        "models": ["fast"],
        "history": {
            "currentId": "m1",
            "messages": {"m1": {"id": "m1", "role": "user", "content": "first", "parentId": None}},
        },
    }
    status, body = await call(a, "POST", "v1/chats/new", {"chat": chat})
    assert status == 200, body
    chat_id = body["id"]
    status, body = await call(a, "POST", f"v1/chats/{chat_id}/messages/m1", {"content": "again"})
    assert status == 200, body
    for ws in (on_a, on_b):
        frames = [f for f in await settle(ws) if f.get("type") == "chat:message"]
        assert [(f["chat_id"], f["data"]["content"]) for f in frames] == [(chat_id, "again")]
    assert await settle(bobs) == []  # not to another user, on any replica
    status, body = await call(b, "GET", f"v1/chats/{chat_id}")
    assert status == 200 and body["chat"]["history"]["messages"]["m1"]["content"] == "again"
    for ws in (on_a, on_b, bobs):
        ws.close()


async def test_a_turn_streamed_by_one_replica_reaches_a_socket_on_the_other_once(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    on_a, on_b = await connect(a), await connect(b)
    chat_id = await new_chat(a)
    started = await start_turn(a, chat_id, "slow", x_chunks=40, x_delay=0.005)
    message_id = started["message_id"]
    for ws in (on_a, on_b):
        frames = await frames_until(ws, is_done(message_id))
        final = frames[-1]["data"]
        assert final["content"] == "".join(f"tok{i} " for i in range(40))
        assert deltas_text(frames, message_id) == final["content"]
        later = await settle(ws)
        assert not [f for f in later if f.get("message_id") == message_id]  # the end came once
    status, body = await call(b, "GET", f"v1/chats/{chat_id}")
    saved = body["chat"]["history"]["messages"][message_id]
    assert status == 200 and saved["done"] is True and saved["content"] == final["content"]
    on_a.close()
    on_b.close()


async def test_a_stop_received_by_one_replica_stops_the_turn_running_on_the_other(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    on_b = await connect(b)
    chat_id = await new_chat(a, "slow")
    started = await start_turn(a, chat_id, "slow", **LONG)
    message_id, task_id = started["message_id"], started["task_id"]
    await frames_until(on_b, lambda f: "delta" in (f.get("data") or {}))
    assert await call(b, "GET", f"tasks/chat/{chat_id}") == (200, {"task_ids": [task_id]})
    assert await call(b, "GET", f"tasks/chat/{chat_id}", user="bob") == (200, {"task_ids": []})
    assert await call(b, "POST", f"tasks/chat/{chat_id}/stop", user="bob") == (
        200,
        {"status": False, "task_ids": []},
    )
    assert await call(b, "POST", f"tasks/chat/{chat_id}/stop") == (
        200,
        {"status": True, "task_ids": [task_id]},
    )
    frames = await frames_until(on_b, is_done(message_id), timeout=10)
    assert frames[-1]["data"]["stopped"] is True
    assert await call(a, "GET", f"tasks/chat/{chat_id}") == (200, {"task_ids": []})
    status, body = await call(b, "GET", f"v1/chats/{chat_id}")
    saved = body["chat"]["history"]["messages"][message_id]
    assert status == 200 and saved["done"] is True and saved["stopped"] is True
    assert len(saved["content"].split()) < LONG["x_chunks"]

    # The socket's chat:stop frame, sent to the replica that does not run the turn.
    second = await start_turn(a, chat_id, "slow", **LONG)
    await frames_until(
        on_b, lambda f: f.get("message_id") == second["message_id"] and "delta" in f["data"]
    )
    on_b.write_message(json.dumps({"type": "chat:stop", "chat_id": chat_id}))
    frames = await frames_until(on_b, lambda f: f.get("type") == "chat:stop")
    assert frames[-1]["data"] == {"task_ids": [second["task_id"]]}
    frames = await frames_until(on_b, is_done(second["message_id"]), timeout=10)
    assert frames[-1]["data"]["stopped"] is True
    on_b.close()


async def test_settings_changed_on_one_replica_are_read_on_the_other(
    replicas: list[Replica], scripted_openai_module: Any
) -> None:
    a, b = replicas
    status, before = await call(b, "GET", "v1/openai/config")
    assert status == 200 and before["OPENAI_API_BASE_URLS"] == [scripted_openai_module.base_url]
    assert "fast" in {m["id"] for m in (await call(b, "GET", "models"))[1]["data"]}
    urls = [scripted_openai_module.base_url, scripted_openai_module.base_url]
    update = {
        "OPENAI_API_BASE_URLS": urls,
        "OPENAI_API_KEYS": ["sk-1", "sk-2"],
        "OPENAI_API_CONFIGS": {"1": {"prefix_id": "second"}},
    }
    status, body = await call(a, "POST", "v1/openai/config/update", update)
    assert status == 200, body
    assert await call(b, "POST", "v1/openai/config/update", update, user="bob") == (403, ANY)

    async def seen_on_b() -> bool:
        status, after = await call(b, "GET", "v1/openai/config")
        return status == 200 and after["OPENAI_API_BASE_URLS"] == urls

    await eventually(seen_on_b, timeout=5)
    models = {m["id"] for m in (await call(b, "GET", "models"))[1]["data"]}
    assert {"fast", "second.fast"} <= models  # the new connection is used on B too

    status, body = await call(a, "POST", "v1/retrieval/config/update", {"top_k": 7})
    assert status == 200 and body["top_k"] == 7, body

    async def top_k_on_b() -> bool:
        return (await call(b, "GET", "v1/retrieval/config"))[1]["top_k"] == 7

    await eventually(top_k_on_b, timeout=5)


async def test_the_bus_reconnects_after_its_connection_is_terminated(
    replicas: list[Replica], team_database: str
) -> None:
    a, b = replicas
    on_b = await connect(b)
    killed = terminate_listeners(team_database)
    assert len(killed) == 2

    async def both_back() -> bool:
        pids = await asyncio.to_thread(listener_pids, team_database)
        return len(pids) == 2 and not set(pids) & set(killed)

    await eventually(both_back, timeout=15)
    chat_id = await new_chat(a)
    started = await start_turn(a, chat_id, "fast")
    frames = await frames_until(on_b, is_done(started["message_id"]), timeout=10)
    assert frames[-1]["data"]["content"].startswith("tok0 ")
    status, body = await call(b, "POST", f"tasks/chat/{chat_id}/stop")  # requests work too
    assert status == 200 and body == {"status": False, "task_ids": []}
    on_b.close()


class _Any:
    def __eq__(self, other: object) -> bool:
        return True


ANY = _Any()


def test_a_payload_larger_than_notify_allows_arrives_whole(team_database: str) -> None:
    """NOTIFY takes under 8000 bytes: a longer message goes in pieces, reassembled."""
    from oui_jupyter.team.bus import PgBus, split_payload

    body = "é€" * 9000 + "end"  # 45 kB of UTF-8, multi-byte characters across the cuts
    assert "".join(split_payload(body)) == body
    assert all(len(p.encode()) <= 7836 for p in split_payload(body))

    async def run() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        loop = asyncio.get_running_loop()
        sender = PgBus(team_database, channel="oui_test_pieces")
        receiver = PgBus(team_database, channel="oui_test_pieces")
        heard_by_sender: list[tuple[str, str]] = []
        heard: list[tuple[str, str]] = []
        sender.on("event", lambda head, text: heard_by_sender.append((head["u"], text)))
        receiver.on("event", lambda head, text: heard.append((head["u"], text)))
        await asyncio.to_thread(sender.start, loop)
        await asyncio.to_thread(receiver.start, loop)
        try:
            sender.publish("event", {"u": "carol"}, body)
            sender.publish("event", {"u": "carol"}, "small")
            deadline = time.monotonic() + 10
            while len(heard) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
        finally:
            await asyncio.to_thread(sender.close)
            await asyncio.to_thread(receiver.close)
        return heard, heard_by_sender

    heard, heard_by_sender = asyncio.run(run())
    assert heard == [("carol", body), ("carol", "small")]
    assert heard_by_sender == []  # a replica never hears itself


def test_the_listener_drops_repeats_its_own_and_broken_messages() -> None:
    """What the listener hears, piece by piece (no database: its parser alone)."""
    from oui_jupyter.team.bus import PgBus

    async def run() -> list[tuple[str, str]]:
        bus = PgBus("postgresql://nobody@127.0.0.1:1/none")
        bus._loop = asyncio.get_running_loop()
        heard: list[tuple[str, str]] = []
        bus.on("event", lambda head, body: heard.append((head["u"], body)))
        head = '{"u":"carol","k":"event","o":"other"}\n'
        for payload in [
            f"other:0:0:1:{head}one",
            f"other:0:0:1:{head}one",  # sent again after a lost answer to its commit
            f"other:1:0:2:{head}tw",
            "other:1:1:2:o",
            "other:2:1:2:lost its first piece",
            f"{bus.replica}:0:0:1:{head}mine",  # this replica's own: delivered locally
            "not a message",
            f"other:3:0:1:{head}three",
        ]:
            bus._heard(payload)
        await asyncio.sleep(0.05)
        return heard

    assert asyncio.run(run()) == [("carol", "one"), ("carol", "two"), ("carol", "three")]


async def test_the_bus_comes_back_after_the_database_restarts(
    tmp_path: Any, scripted_openai_module: Any
) -> None:
    """Two replicas on a cluster of the test's own, restarted under them (``pg_ctl restart``):
    both buses listen again, and a turn on one reaches a socket on the other."""
    from support.pgcluster import PgCluster

    cluster = PgCluster().start()
    try:
        a, b = await asyncio.to_thread(
            start_replicas, tmp_path, cluster.url, scripted_openai_module.base_url
        )
        try:
            before = await asyncio.to_thread(listener_pids, cluster.url)
            assert len(before) == 2
            await asyncio.to_thread(
                cluster._as_postgres,
                str(cluster.bin / "pg_ctl"),
                "-D",
                str(cluster.data),
                "-l",
                str(cluster.log),
                "-w",
                "-m",
                "fast",
                "restart",
            )

            async def both_back() -> bool:
                try:
                    pids = await asyncio.to_thread(listener_pids, cluster.url)
                except Exception:  # still starting
                    return False
                return len(pids) == 2 and not set(pids) & set(before)

            await eventually(both_back, timeout=30)
            on_b = await connect(b)
            chat_id = await new_chat(a)
            started = await start_turn(a, chat_id, "fast")
            frames = await frames_until(on_b, is_done(started["message_id"]), timeout=15)
            assert frames[-1]["data"]["content"].startswith("tok0 ")
            assert deltas_text(frames, started["message_id"]) == frames[-1]["data"]["content"]
            on_b.close()
        finally:
            a.stop()
            b.stop()
    finally:
        cluster.stop()
