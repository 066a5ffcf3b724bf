"""The team service stopped while alice works: her server answers 503 with a clear message,
her workspace search still answers, her events socket stays open and says so; the service
restarted: her chats are all there, new turns work and the socket relays again."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import WebSocketClientConnection

from team.client_support import TEAM_TOKEN, TeamServiceProcess


@pytest.fixture
def team_service(tmp_path: Path, scripted_openai_server: Any) -> Any:
    root = tmp_path / "team-service"
    service = TeamServiceProcess(
        root, f"sqlite:///{tmp_path / 'team.db'}", scripted_openai_server.base_url
    ).start()
    yield service
    service.stop()


@pytest.fixture
def oui_extra_config(team_service: Any, monkeypatch: Any, jp_root_dir: Path) -> dict[str, Any]:
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TEAM_TOKEN)
    (jp_root_dir / "notes.md").write_text("The warp core runs on dilithium crystals.\n")
    return {
        "team_mode": "client",
        "team_url": team_service.team_url,
        "index_start_delay": 0.0,
        "connect_timeout": 2.0,
        "local_model_enabled": False,
        "enable_title_generation": False,
        "enable_tags_generation": False,
    }


async def next_frame(socket: WebSocketClientConnection, kind: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind} frame"
        message = await asyncio.wait_for(socket.read_message(), left)
        assert message is not None, "the socket closed"
        frame = json.loads(message)
        if frame.get("type") == kind:
            return frame


async def open_events(jp_ws_fetch: Any) -> WebSocketClientConnection:
    return await jp_ws_fetch(
        "oui", "api", "events", headers={"Authorization": f"token {TEAM_TOKEN}"}
    )


async def workspace_hits(api: Any, query: str = "warp core dilithium") -> list[str]:
    deadline = time.monotonic() + 60
    while True:
        found = await api(
            "POST",
            "v1/retrieval/query/doc",
            {"collection_name": "workspace", "query": query, "k": 1},
        )
        assert found.code == 200, found.body
        sources = [m["source"] for m in found.json()["metadatas"][0]]
        if sources:
            return sources
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_service_down_then_back(api: Any, jp_ws_fetch: Any, team_service: Any) -> None:
    chats = []
    for n in range(3):
        made = await api("POST", "v1/chats/new", {"chat": {"title": f"chat {n}"}})
        assert made.code == 200, made.body
        chats.append(made.json()["id"])
    turn = await api("POST", f"v1/chats/{chats[0]}/message", {"content": "hi", "model": "fast"})
    assert turn.code == 200, turn.body
    assert await workspace_hits(api) == ["notes.md"]
    socket = await open_events(jp_ws_fetch)
    socket.write_message(json.dumps({"type": "ping"}))
    assert (await next_frame(socket, "pong"))["type"] == "pong"  # relayed from the service

    team_service.stop()
    down = await api("GET", "v1/chats/")
    assert down.code == 503, down.body
    detail = down.json()["detail"]
    assert "not reachable" in detail and "workspace search still works" in detail
    assert "Traceback" not in down.body.decode()
    streamed = await api(
        "POST",
        "chat/completions",
        {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert streamed.code == 503 and "not reachable" in streamed.json()["detail"]
    status = await api("GET", "v1/retrieval/status")
    assert status.json()["embedded"] >= 1  # vectors exist: a new query needs embedding
    # a query never seen (not embedded before): searched here, by keywords while away
    assert await workspace_hits(api, "which crystals run the warp core") == ["notes.md"]
    error = await next_frame(socket, "error")
    assert error["data"]["team_service"] == "unreachable"
    other = await open_events(jp_ws_fetch)  # a socket still opens, and says why it is quiet
    assert (await next_frame(other, "error"))["data"]["team_service"] == "unreachable"
    other.close()

    team_service.start()
    back = await next_frame(socket, "status", timeout=60)
    assert back["data"]["team_service"] == "connected"
    socket.write_message(json.dumps({"type": "ping"}))
    assert (await next_frame(socket, "pong"))["type"] == "pong"
    listed = await api("GET", "v1/chats/")
    assert listed.code == 200
    assert set(chats) <= {c["id"] for c in listed.json()}
    kept = (await api("GET", f"v1/chats/{chats[0]}")).json()
    assert [m["content"] for m in kept["chat"]["messages"] if m["role"] == "user"] == ["hi"]
    again = await api("POST", f"v1/chats/{chats[1]}/message", {"content": "hello", "model": "fast"})
    assert again.code == 200 and again.json()["done"], again.body
    socket.close()
