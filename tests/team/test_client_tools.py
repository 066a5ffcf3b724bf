"""Workspace tools in team mode: the service (here in-process, team_mode "service") holds none
and runs none; alice's server (a real client process) runs them for the turns it forwards,
over the turn's tool channel, while the service runs the turn.

The turns are real: the service's tool loop against the scripted upstream's ``toolcall``
model (native function calling), which calls the client's ``read_file`` and the service's
own ``echo`` in one round, then answers with what the ``tool`` messages said. The client's
forwarding, poller and local registry, the service's handlers, channel and authz are the
real code."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat.helpers import scripted_settings, sse_text
from chat.tool_support import EchoTool
from support.oui_process import TOKEN

from oui_jupyter.errors import NotFound
from oui_jupyter.tools.base import ToolContext, ToolLimits
from oui_jupyter.tools.files import ReadFileTool
from team.client_support import ClientProcess

NOTE = "The flux capacitor needs 1.21 gigawatts.\n"
CHANNEL = "k" * 32


@pytest.fixture
def oui_extra_config(scripted_openai_server: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai_server.base_url, team_mode="service")


async def ready(jp_serverapp: Any, api: Any) -> Any:
    """The in-process service's services (built), with a tool of its own."""
    assert (await api("GET", "v1/users/user")).code == 200
    services = jp_serverapp.web_app.settings["oui_runtime"].services
    services.tools.add(EchoTool(), "builtin")  # the service's own tool
    return services


class Team:
    def __init__(self, url: str) -> None:
        self.team_url = url


@contextlib.asynccontextmanager
async def client_of(service_url: str, tmp_path: Path) -> AsyncIterator[ClientProcess]:
    """alice's server, a process of its own, client of the in-process service."""
    root = tmp_path / "alice"
    (root / "work").mkdir(parents=True)
    (root / "work" / "notes.md").write_text(NOTE)
    process = ClientProcess(root, Team(service_url))  # type: ignore[arg-type]
    on = process.args.index("--OuiJupyter.index_workspace=True")
    process.args[on] = "--OuiJupyter.index_workspace=False"  # no index: no embeddings asked
    await asyncio.to_thread(process.start)  # it asks the service (this loop) while it starts
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


@pytest.fixture
def service_url(jp_http_port: int, jp_base_url: str) -> str:
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


def tool_results(scripted: Any) -> list[str]:
    """The ``tool`` messages of the upstream's last request (what the model read)."""
    return [str(m["content"]) for m in scripted.requests[-1]["messages"] if m["role"] == "tool"]


def read_notes(results: list[str]) -> bool:
    """What read_file answered for notes.md on the client, then the service's echo."""
    return (
        len(results) == 2
        and results[0].startswith("notes.md, lines 1-1 of 1\n")
        and results[0].endswith(f"1\t{NOTE.strip()}")
        and results[1] == "echo: hi"
    )


async def on_client(client: ClientProcess, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
        return await http.request(
            method,
            f"{client.url}/oui/api/{path}",
            json=body,
            headers={"Authorization": f"token {TOKEN}"},
        )


async def test_the_service_has_no_workspace_tools(jp_serverapp: Any, api: Any) -> None:
    service = await ready(jp_serverapp, api)
    listed = await api("GET", "v1/tools/")
    assert listed.code == 200
    assert sorted(t["name"] for t in listed.json()) == ["echo", "remember"]
    context = ToolContext(service.users.info(_identity("alice")), "/srv")
    with pytest.raises(NotFound):
        await service.tools.run("read_file", {"path": "x"}, context)
    with pytest.raises(ValueError, match="workspace"):
        service.tools.add(ReadFileTool(ToolLimits()), "entrypoint")


def _identity(name: str) -> Any:
    from oui_jupyter.services.users import Identity

    return Identity(username=name)


async def test_the_channel_routes(jp_serverapp: Any, api: Any) -> None:
    service = await ready(jp_serverapp, api)
    alice = service.users.info(_identity("alice"))
    spec = {"name": "read_file", "parameters": {"type": "object", "properties": {}}}
    tools = service.tool_channels.open(alice, CHANNEL, [spec], service.tools)
    call = asyncio.ensure_future(tools.run("read_file", {}, ToolContext(alice, "/srv")))
    path = f"v1/tools/channel/{CHANNEL}"
    polled = await api("GET", f"{path}/requests", params={"wait": 5})
    assert polled.code == 200, polled.body
    answer = polled.json()
    assert answer["running"] and answer["cursor"] == 1
    request = answer["requests"][0]
    assert request["name"] == "read_file"
    assert (await api("GET", f"{path}/requests", params={"wait": 0}, user="bob")).code == 404
    assert (await api("GET", f"{path}/requests", params={"wait": 99})).code == 422
    nobody = await api("GET", f"v1/tools/channel/{'z' * 32}/requests", params={"wait": 0})
    assert nobody.code == 404
    both = {"call_id": request["call_id"], "content": "x", "error": "y"}
    assert (await api("POST", f"{path}/results", both)).code == 422
    assert (await api("POST", f"{path}/results", {"call_id": request["call_id"]})).code == 422
    unknown = await api("POST", f"{path}/results", {"call_id": "nope", "content": "x"})
    assert unknown.code == 404, unknown.body
    result = {"call_id": request["call_id"], "content": "hello", "sources": []}
    assert (await api("POST", f"{path}/results", result, user="bob")).code == 404
    done = await api("POST", f"{path}/results", result)
    assert done.code == 200 and done.json() == {"call_id": request["call_id"]}
    assert (await call).content == "hello"
    assert (await api("POST", f"{path}/results", result)).code == 409
    tools.close()
    over = await api("GET", f"{path}/requests", params={"wait": 5, "after": 1})
    assert over.json() == {"requests": [], "running": False, "cursor": 1}
    turn = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    for extra, says in [
        ({"client_tools": [spec]}, "come together"),
        ({"client_tools": [{"name": "a b"}], "tool_channel": "q" * 32}, "is not 1-64"),
        ({"client_tools": [spec], "tool_channel": "short"}, "tool_channel"),
    ]:
        refused = await api("POST", "chat/completions", {**turn, **extra})
        assert refused.code == 422 and says in refused.json()["message"], refused.body
    assert "q" * 32 not in service.tool_channels._channels


async def test_the_clients_tool_list_says_where_each_tool_runs(
    jp_serverapp: Any, api: Any, service_url: str, tmp_path: Path
) -> None:
    await ready(jp_serverapp, api)
    async with client_of(service_url, tmp_path) as client:
        listed = await on_client(client, "GET", "v1/tools/")
    assert listed.status_code == 200, listed.text
    runs = {t["name"]: t["runs"] for t in listed.json()}
    assert runs == {
        "echo": "service",
        "remember": "service",  # memories are the team's data
        "list_files": "client",
        "read_file": "client",
        "read_notebook": "client",
        "sql": "client",
    }


async def test_turns_through_the_client_run_its_tools_there(
    jp_serverapp: Any,
    api: Any,
    service_url: str,
    tmp_path: Path,
    scripted_openai: Any,
) -> None:
    service = await ready(jp_serverapp, api)
    async with client_of(service_url, tmp_path) as client:
        await turns_through(client, service, scripted_openai)


def calls(path: str) -> list[list[tuple[str, dict[str, Any]]]]:
    return [[("read_file", {"path": path}), ("echo", {"text": "hi"})]]


async def channels_closed(service: Any) -> bool:
    """Every channel the turns opened has ended (ended ones linger for late polls)."""
    for _ in range(600):
        if all(c.ended_at is not None for c in service.tool_channels._channels.values()):
            return True
        await asyncio.sleep(0.05)
    return False


async def turns_through(client: ClientProcess, service: Any, scripted_openai: Any) -> None:
    tools = ["read_file", "echo"]
    scripted_openai.tool_script = calls("notes.md")
    # streamed, outside a chat
    turn = {
        "model": "toolcall",
        "stream": True,
        "tool_ids": tools,
        "messages": [{"role": "user", "content": "read notes.md"}],
    }
    streamed = await on_client(client, "POST", "chat/completions", turn)
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text, streamed.text
    assert read_notes(tool_results(scripted_openai))
    assert sse_text(streamed.content).startswith("Checking. Tool said: notes.md, lines 1-1")
    assert await channels_closed(service)

    # a path outside the client's root: the client's own refusal is what the model reads
    scripted_openai.tool_script = calls("../../etc/passwd")
    refused = await on_client(client, "POST", "chat/completions", turn)
    assert refused.status_code == 200
    assert tool_results(scripted_openai)[0].startswith("read_file: "), tool_results(scripted_openai)
    assert "root:" not in tool_results(scripted_openai)[0]

    # not streamed, in a chat (v1/chats/{id}/message): the calls are kept on the answer
    scripted_openai.tool_script = calls("notes.md")
    chat = await on_client(client, "POST", "v1/chats/new", {"chat": {"title": "tools"}})
    chat_id = chat.json()["id"]
    message = {"content": "read notes.md", "model": "toolcall", "tool_ids": tools}
    answered = await on_client(client, "POST", f"v1/chats/{chat_id}/message", message)
    assert answered.status_code == 200, answered.text
    assert read_notes(tool_results(scripted_openai))
    stored = (await on_client(client, "GET", f"v1/chats/{chat_id}")).json()
    answer = next(
        m for m in stored["chat"]["history"]["messages"].values() if m["role"] == "assistant"
    )
    assert [(c["name"], c["status"]) for c in answer["tool_calls"]] == [
        ("read_file", "done"),
        ("echo", "done"),
    ]

    # live mode: the POST answers at once, the turn (and its tool calls) go on in a task
    before = len(scripted_openai.requests)
    live = {**turn, "chat_id": chat_id, "session_id": "s1"}
    started = await on_client(client, "POST", "chat/completions", live)
    assert started.status_code == 200 and started.json()["task_id"], started.text
    for _ in range(600):
        if len(scripted_openai.requests) == before + 2:
            break
        await asyncio.sleep(0.05)
    assert read_notes(tool_results(scripted_openai))
    assert await channels_closed(service)  # the channel ended with the live turn's task
    bodies = [json.dumps(r) for r in scripted_openai.requests]
    assert not any("client_tools" in b or "tool_channel" in b for b in bodies)
