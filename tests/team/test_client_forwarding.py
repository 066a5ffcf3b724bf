"""alice's server in team client mode (the jp_serverapp fixture) in front of a stand-in team
service (a real ``jupyter server`` process running oui under /services/oui/): every route
but the workspace's is forwarded as alice, SSE streams chunk by chunk, statuses and JSON
errors pass through, the workspace is searched here and its hits go along with the turn."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from oui_jupyter.handlers.base import OPENAI_KEY_ERROR
from team.client_support import TEAM_TOKEN, TeamServiceProcess

NOTE = "The flux capacitor of the DeLorean needs 1.21 gigawatts of electrical power to work.\n"


@pytest.fixture(scope="module")
def team_service(tmp_path_factory: Any, scripted_openai_server: Any) -> Any:
    root = tmp_path_factory.mktemp("team-service")
    service = TeamServiceProcess(
        root, f"sqlite:///{root / 'team.db'}", scripted_openai_server.base_url
    ).start()
    yield service
    service.stop()


@pytest.fixture
def oui_extra_config(team_service: Any, monkeypatch: Any, jp_root_dir: Path) -> dict[str, Any]:
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TEAM_TOKEN)
    (jp_root_dir / "notes.md").write_text(NOTE)
    (jp_root_dir / "other.md").write_text("Bananas are yellow and rich in potassium.\n")
    return {
        "team_mode": "client",
        "team_url": team_service.team_url,
        "index_start_delay": 0.0,
        "local_model_enabled": False,
        "enable_title_generation": False,
        "enable_tags_generation": False,
    }


@pytest.fixture
def alice_server(
    jp_serverapp: Any, http_server_client: Any, jp_http_port: int, jp_base_url: str
) -> str:
    """The URL of alice's server's ``oui/api/`` (the server started)."""
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}oui/api/"


async def indexed(api: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status = await api("GET", "v1/retrieval/status")
        assert status.code == 200, status.body
        body = status.json()
        if body["files"] >= 2 and body["embedded"] >= 2 and not body["pending"]:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


async def test_sidebar_routes_reach_the_service_as_alice(api: Any, team_service: Any) -> None:
    me = await api("GET", "v1/users/user")
    assert me.code == 200 and me.json()["name"] == "Alice", me.body
    created = await api("POST", "v1/chats/new", {"chat": {"title": "through my server"}})
    assert created.code == 200, created.body
    chat_id = created.json()["id"]
    listed = await api("GET", "v1/chats/", params={"page": 1})
    assert chat_id in [c["id"] for c in listed.json()]
    status, stored = team_service.as_alice("GET", f"oui/api/v1/chats/{chat_id}")
    assert status == 200 and stored["title"] == "through my server"
    models = await api("GET", "models")
    assert models.code == 200 and "fast" in [m["id"] for m in models.json()["data"]]


async def test_the_caller_is_authenticated_here_and_never_forwarded(api: Any) -> None:
    nobody = {"Authorization": "token not-a-token"}
    for route in ("v1/chats/", "v1/retrieval/status", "v1/models"):
        assert (await api("GET", route, user=None, headers=nobody)).code == 403, route
    # the OpenAI-compatible routes answer as OpenAI does, as on a lone server
    for method, route in (
        ("GET", "models"),
        ("POST", "chat/completions"),
        ("POST", "v1/chat/completions"),
    ):
        body = {} if method == "POST" else None
        refused = await api(method, route, body, user=None, headers=nobody)
        assert refused.code == 401, (route, refused.body)
        assert refused.json() == OPENAI_KEY_ERROR
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    seen = await api(
        "GET",
        "x-echo-headers",
        user="bob",  # bob may use alice's server here: the service still sees her token
        headers={"Cookie": "session=abc", "X-XSRFToken": "xyz", "Prefer": "return=minimal"},
    )
    assert seen.code == 200, seen.body
    assert seen.json()["user"] == "alice"
    headers = {k.lower(): v for k, v in seen.json()["headers"].items()}
    assert headers["authorization"] == f"token {TEAM_TOKEN}"
    assert headers["prefer"] == "return=minimal"
    assert "cookie" not in headers and "x-xsrftoken" not in headers


async def test_upstream_errors_pass_through_unchanged(api: Any, team_service: Any) -> None:
    missing = await api("GET", "v1/chats/no-such-chat")
    direct_status, direct = team_service.as_alice("GET", "oui/api/v1/chats/no-such-chat")
    assert (missing.code, missing.json()) == (direct_status, direct) == (404, direct)
    refused = await api("POST", "v1/openai/config/update", {"OPENAI_API_BASE_URLS": []})
    assert refused.code == 403, refused.body
    assert "admin" in refused.json()["message"].lower()


async def test_a_body_past_the_limit_is_refused_here(api: Any) -> None:
    big = b'{"chat": {"title": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
    response = await api("POST", "v1/chats/new", raw=big, timeout=60)
    assert response.code == 413, response.body[:200]
    assert "limit" in response.json()["detail"]


async def test_sse_chunks_arrive_as_they_are_written(alice_server: str) -> None:
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest

    arrivals: list[tuple[float, bytes]] = []
    start = time.monotonic()
    request = HTTPRequest(
        alice_server + "chat/completions",
        method="POST",
        headers={"Authorization": f"token {TEAM_TOKEN}", "Content-Type": "application/json"},
        body=json.dumps(
            {
                "model": "slow",
                "stream": True,
                "x_chunks": 10,
                "x_delay": 0.06,
                "messages": [{"role": "user", "content": "count"}],
            }
        ),
        streaming_callback=lambda chunk: arrivals.append((time.monotonic() - start, chunk)),
        request_timeout=30,
    )
    response = await AsyncHTTPClient().fetch(request)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    tokens = [t for t, chunk in arrivals if b"tok" in chunk]
    assert len(tokens) >= 5, arrivals  # not one block at the end
    assert tokens[-1] - tokens[0] >= 0.3, tokens  # spread over the upstream's ~0.6 s
    assert b"[DONE]" in b"".join(chunk for _, chunk in arrivals)


async def test_openai_client_streams_through_alice_server(alice_server: str) -> None:
    import openai

    client = openai.AsyncOpenAI(base_url=alice_server.rstrip("/"), api_key=TEAM_TOKEN)
    stream = await client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    await client.close()
    assert text.startswith("tok0 tok1")


async def test_workspace_search_is_local(api: Any, team_service: Any) -> None:
    status = await indexed(api)
    assert status["embedding_engine"] == "openai"
    assert status["model"].startswith(f"openai:{team_service.team_url}oui/api:")
    found = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": ["workspace"], "query": "flux capacitor power", "k": 1},
    )
    assert found.code == 200, found.body
    assert found.json()["metadatas"][0][0]["source"] == "notes.md"
    added = await api(
        "POST",
        "v1/retrieval/process/text",
        {"name": "team-note", "content": "Tribbles purr and multiply.", "collection_name": "kb"},
    )
    assert added.code == 200, added.body  # a collection of alice's on the service
    mixed = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": ["workspace", "kb"], "query": "tribbles flux capacitor", "k": 4},
    )
    assert mixed.code == 200, mixed.body
    sources = {m.get("source") or m.get("name") for m in mixed.json()["metadatas"][0]}
    assert "notes.md" in sources and "team-note" in sources, mixed.json()
    distances = mixed.json()["distances"][0]
    assert distances == sorted(distances, reverse=True)
    bad = await api("POST", "v1/retrieval/query/doc", {"collection_name": "workspace", "k": 1})
    assert bad.code == 422 and "query" in bad.json()["detail"]
    huge = b'{"collection_name": "workspace", "query": "' + b"q" * (10 * 1024 * 1024) + b'"}'
    assert (await api("POST", "v1/retrieval/query/doc", raw=huge, timeout=60)).code == 413


async def test_workspace_context_goes_along_and_the_stored_message_is_hers(
    api: Any, team_service: Any, scripted_openai: Any
) -> None:
    await indexed(api)
    chat = (await api("POST", "v1/chats/new", {"chat": {"title": "flux"}})).json()
    typed = "How much power does the flux capacitor need?"
    turn = await api(
        "POST",
        f"v1/chats/{chat['id']}/message",
        {"content": typed, "model": "fast", "files": [{"type": "path", "path": "notes.md"}]},
    )
    assert turn.code == 200, turn.body
    answer = turn.json()
    assert answer["sources"] and answer["sources"][0]["path"] == "notes.md"
    sent = scripted_openai.requests[-1]["messages"][-1]["content"]
    assert "1.21 gigawatts" in sent and typed in sent  # the RAG block went upstream
    status, stored = team_service.as_alice("GET", f"oui/api/v1/chats/{chat['id']}")
    assert status == 200
    messages = stored["chat"]["history"]["messages"]
    users = [m for m in messages.values() if m["role"] == "user"]
    assert [m["content"] for m in users] == [typed]  # what she typed, no context
    assistant = messages[answer["id"]]
    assert assistant["sources"][0]["path"] == "notes.md"

    # the openai-style route, whole workspace: the service gets workspace_context, not the flag
    scripted_openai.reset()
    done = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "messages": [{"role": "user", "content": "Which fruit is rich in potassium?"}],
            "features": {"workspace": True},
        },
    )
    assert done.code == 200, done.body
    assert "Bananas" in scripted_openai.requests[-1]["messages"][-1]["content"]


async def test_a_caller_gone_mid_stream_stops_the_answer(
    alice_server: str, scripted_openai: Any
) -> None:
    import httpx

    body = {
        "model": "slow",
        "stream": True,
        "x_chunks": 200,
        "x_delay": 0.05,
        "messages": [{"role": "user", "content": "long"}],
    }
    headers = {"Authorization": f"token {TEAM_TOKEN}"}
    async with httpx.AsyncClient() as client:
        async with client.stream(
            "POST", alice_server + "chat/completions", json=body, headers=headers
        ) as response:
            async for line in response.aiter_lines():
                if "tok1" in line:
                    break  # leave after two tokens: the connection closes
    deadline = time.monotonic() + 20
    while not scripted_openai.closed_early:  # the service stopped reading the upstream
        assert time.monotonic() < deadline, "the answer kept streaming after the caller left"
        await asyncio.sleep(0.05)
    assert scripted_openai.completed == 0
