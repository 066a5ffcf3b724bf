"""alice's own server in team client mode behind a real JupyterHub (``support.hub``): her
sidebar routes, the openai client and her workspace reach the service through it; what is
stored is what she typed; the service stopped -> clear 503s while her workspace search still
answers; restarted -> her chats are there and new turns work. Her server loads no torch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.hub import Hub

NOTE = "The flux capacitor of the DeLorean needs 1.21 gigawatts of electrical power.\n"


@pytest.fixture(scope="module")
def hub_options() -> dict[str, Any]:
    return {
        "service_args": (
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.enable_title_generation=False",
            "--OuiJupyter.enable_tags_generation=False",
        ),
        "user_args": (
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.index_workspace=True",
            "--OuiJupyter.index_start_delay=0",
            "--OuiJupyter.index_poll_interval=0.5",
        ),
    }


@pytest.fixture(scope="module")
def alice(hub: Hub) -> Hub:
    hub.spawn("alice")
    home = Path(hub.homes / "alice")
    (home / "notes.md").write_text(NOTE)
    return hub


def wait_indexed(hub: Hub, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = hub.user_api("alice", "v1/retrieval/status")
        assert status.status == 200, status.text
        body = status.json()
        if body["files"] >= 1 and body["embedded"] >= 1 and not body["pending"]:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.3)


def search(hub: Hub, query: str = "flux capacitor power") -> Any:
    return hub.user_api(
        "alice",
        "v1/retrieval/query/collection",
        "POST",
        {"collection_names": ["workspace"], "query": query, "k": 1},
    )


def test_sidebar_routes_on_her_server_reach_the_service(alice: Hub) -> None:
    hub = alice
    me = hub.user_api("alice", "v1/users/user")
    assert me.status == 200 and me.json()["id"] == "alice" and me.json()["role"] == "user"
    made = hub.user_api("alice", "v1/chats/new", "POST", {"chat": {"title": "from her server"}})
    assert made.status == 200, made.text
    chat_id = made.json()["id"]
    stored = hub.service_api("alice", f"v1/chats/{chat_id}")
    assert stored.status == 200 and stored.json()["title"] == "from her server"
    assert chat_id in [c["id"] for c in hub.user_api("alice", "v1/chats/").json()]
    models = hub.user_api("alice", "models")
    assert models.status == 200 and "fast" in [m["id"] for m in models.json()["data"]]
    missing = hub.user_api("alice", "v1/chats/no-such-chat")
    assert missing.status == 404
    assert missing.json() == hub.service_api("alice", "v1/chats/no-such-chat").json()
    refused = hub.user_api("alice", "v1/openai/config/update", "POST", {"OPENAI_API_BASE_URLS": []})
    assert refused.status == 403, refused.text
    big = b'{"chat": {"title": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
    assert hub.user_api("alice", "v1/chats/new", "POST", big).status == 413


def test_openai_client_streams_through_her_server(alice: Hub) -> None:
    import openai

    hub = alice
    client = openai.OpenAI(
        base_url=f"{hub.url}/user/alice/oui/api", api_key=hub.token_for("alice"), max_retries=0
    )
    stream = client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("tok0 tok1"), text


def test_workspace_context_and_the_stored_message(alice: Hub) -> None:
    hub = alice
    status = wait_indexed(hub)
    assert status["embedding_engine"] == "openai"
    assert status["model"].startswith(f"openai:{hub.service_url}oui/api:")
    found = search(hub)
    assert found.status == 200 and found.json()["metadatas"][0][0]["source"] == "notes.md"
    chat_id = hub.user_api("alice", "v1/chats/new", "POST", {"chat": {"title": "flux"}}).json()[
        "id"
    ]
    typed = "How much power does the flux capacitor need?"
    turn = hub.user_api(
        "alice",
        f"v1/chats/{chat_id}/message",
        "POST",
        {"content": typed, "model": "fast", "files": [{"type": "path", "path": "notes.md"}]},
    )
    assert turn.status == 200, turn.text
    assert turn.json()["sources"][0]["path"] == "notes.md"
    chat = hub.service_api("alice", f"v1/chats/{chat_id}").json()
    users = [m["content"] for m in chat["chat"]["messages"] if m["role"] == "user"]
    assert users == [typed]


def test_her_events_socket_relays_and_adds_the_index_progress(alice: Hub) -> None:
    import asyncio
    import json

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    hub = alice
    wait_indexed(hub)
    url = hub.url.replace("http://", "ws://") + "/user/alice/oui/api/events"
    token = hub.token_for("alice")

    async def frames() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {token}"})
        )
        socket.write_message(json.dumps({"type": "ping"}))
        pong = progress = None
        (Path(hub.homes / "alice") / "more.md").write_text("Tribbles multiply quickly.\n")
        while pong is None or progress is None:
            message = await asyncio.wait_for(socket.read_message(), 60)
            assert message is not None
            frame = json.loads(message)
            if frame["type"] == "pong":
                pong = frame
            elif frame["type"] == "index:progress":
                progress = frame
        socket.close()
        return pong, progress

    pong, progress = asyncio.run(frames())
    assert pong == {"type": "pong"}  # the service's answer, relayed
    assert "files_total" in progress["data"]  # this server's own index


def test_her_server_loads_no_torch(alice: Hub) -> None:
    hub = alice
    wait_indexed(hub)
    assert (
        hub.user_api(
            "alice",
            "chat/completions",
            "POST",
            {
                "model": "fast",
                "messages": [{"role": "user", "content": "flux?"}],
                "features": {"workspace": True},
            },
        ).status
        == 200
    )
    pid = hub.server_pid("alice")
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "torch" not in maps and "sentence_transformers" not in maps
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    print(f"alice's server RSS after indexing and a chat: {rss_kb / 1024:.0f} MB")


def test_service_stopped_then_restarted(alice: Hub) -> None:
    hub = alice
    wait_indexed(hub)
    chats = [
        hub.user_api("alice", "v1/chats/new", "POST", {"chat": {"title": f"kept {n}"}}).json()["id"]
        for n in range(3)
    ]
    hub.stop_service()
    try:
        down = hub.user_api("alice", "v1/chats/")
        assert down.status == 503, down.text
        assert "not reachable" in down.json()["detail"]
        assert "workspace search still works" in down.json()["detail"]
        assert "Traceback" not in down.text
        found = search(hub, "how many gigawatts for the DeLorean")  # never embedded before
        assert found.status == 200, found.text
        assert found.json()["metadatas"][0][0]["source"] == "notes.md"
    finally:
        hub.start_service()
    listed = hub.user_api("alice", "v1/chats/")
    assert listed.status == 200, listed.text
    assert set(chats) <= {c["id"] for c in listed.json()}
    turn = hub.user_api(
        "alice", f"v1/chats/{chats[0]}/message", "POST", {"content": "back?", "model": "fast"}
    )
    assert turn.status == 200 and turn.json()["done"], turn.text


def test_the_notebook_client_works_through_her_server(alice: Hub) -> None:
    """What ``%%chat``, ``%oui`` and the widgets call (``oui_jupyter.notebook.client``) works
    against her own server unchanged: models and chats come from the service, the workspace
    search from her server, and a streamed turn is saved in the team's database."""
    from oui_jupyter.notebook.client import OuiClient
    from oui_jupyter.notebook.discovery import ServerInfo

    hub = alice
    wait_indexed(hub)
    info = ServerInfo(url=f"{hub.url}/user/alice/", token=hub.token_for("alice"))
    with OuiClient(info) as client:
        assert "fast" in [m["id"] for m in client.models()]
        hits = client.search("flux capacitor power", k=1)
        assert [hit.path for hit in hits] == ["notes.md"]
        chat = client.create_chat("from her notebook", "fast")
        turn = client.stream_message(chat["id"], "Hello from the kernel", model="fast")
        text = "".join(turn)
        assert text and turn.message is not None and turn.message["content"] == text
    stored = hub.service_api("alice", f"v1/chats/{chat['id']}")
    assert stored.status == 200, stored.text
    contents = [m["content"] for m in stored.json()["chat"]["messages"]]
    assert contents == ["Hello from the kernel", text]
