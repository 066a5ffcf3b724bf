"""Two replicas of the oui team service behind a real JupyterHub (issue #16): the hub's own
service process (reached through the hub's proxy) and a second one on the same database and
hub credentials (``Hub.start_replica``). Tokens are the hub's; a turn streamed by one replica
reaches alice's socket on the other, once, and a stop sent to the other stops it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.hub import Hub, http
from support.oui_process import stop_process
from support.team_replicas import team_database
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect


@pytest.fixture(scope="module")
def team_database_url() -> Iterator[str]:
    """The hub's team database (this module's own: see ``support.team_replicas``)."""
    with team_database() as url:
        yield url


async def frames_until(
    ws: WebSocketClientConnection, predicate: Any, timeout: float = 30.0
) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.read_message(), max(deadline - time.monotonic(), 0.1))
        assert message is not None, "the events socket closed"
        frames.append(json.loads(message))
        if predicate(frames[-1]):
            return frames


def test_a_turn_on_one_hub_replica_is_seen_and_stopped_on_the_other(hub: Hub) -> None:
    replica, url = hub.start_replica()
    token = hub.token_for("alice")
    auth = {"Authorization": f"token {token}"}
    through_hub = hub.url.replace("http://", "ws://") + "/services/oui/oui/api/events"
    direct = url.replace("http://", "ws://") + "oui/api/events"

    async def scenario() -> None:
        first = await websocket_connect(HTTPRequest(through_hub, headers=auth))
        second = await websocket_connect(HTTPRequest(direct, headers=auth))
        created = await asyncio.to_thread(
            hub.service_api, "alice", "v1/chats/new", "POST", {"chat": {"models": ["slow"]}}
        )
        assert created.status == 200, created.text
        chat_id = created.json()["id"]
        turn = {
            "model": "slow",
            "chat_id": chat_id,
            "session_id": "s",
            "messages": [{"role": "user", "content": "Count"}],
            "x_chunks": 400,
            "x_delay": 0.05,
        }
        started = await asyncio.to_thread(
            hub.service_api, "alice", "chat/completions", "POST", turn
        )
        assert started.status == 200, started.text
        message_id, task_id = started.json()["message_id"], started.json()["task_id"]
        seen = {id(second): await frames_until(second, lambda f: "delta" in (f.get("data") or {}))}
        assert seen[id(second)][-1]["message_id"] == message_id
        stop = await asyncio.to_thread(
            http, "POST", f"{url}oui/api/tasks/chat/{chat_id}/stop", {}, headers=auth
        )
        assert stop.status == 200, stop.text
        assert stop.json() == {"status": True, "task_ids": [task_id]}
        for ws in (first, second):
            frames = seen.get(id(ws), []) + await frames_until(
                ws,
                lambda f: f.get("message_id") == message_id and (f.get("data") or {}).get("done"),
            )
            assert frames[-1]["data"]["stopped"] is True
            text = "".join(
                f["data"]["delta"]
                for f in frames
                if f.get("message_id") == message_id and "delta" in f["data"]
            )
            assert text == frames[-1]["data"]["content"]  # each delta once, none lost
            ws.close()

    try:
        asyncio.run(scenario())
    finally:
        stop_process(replica)
