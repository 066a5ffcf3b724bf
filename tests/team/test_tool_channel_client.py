"""The client's side of a tool channel (``team/client/tool_channel.py``) against a scripted
service (httpx's mock transport): what it polls, runs and posts, and when it stops."""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import httpx

from oui_jupyter.services.users import UserInfo
from oui_jupyter.team.client.tool_channel import (
    MAX_RESULT_BYTES,
    ChannelServer,
    local_tool_specs,
    result_body,
)
from oui_jupyter.team.client.upstream import TeamSettings, TeamUpstream
from oui_jupyter.tools.base import ToolContext, ToolResult
from oui_jupyter.tools.registry import ToolRegistry

ALICE = UserInfo("alice", "alice", "Alice", "user", ())


class Echo:
    name = "echo"
    description = "says it back"
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
    }
    requires_approval = True
    contexts: ClassVar[list[ToolContext]] = []

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        self.contexts.append(context)
        return ToolResult(f"echo {args['text']}", {"n": 1})


class Service:
    """Answers the polls in turn from ``polls``; keeps what is posted."""

    def __init__(self, polls: list[tuple[int, Any]], results: int = 0) -> None:
        self.polls = polls
        self.results = results  # the turn ends once this many results came
        self.asked: list[httpx.Request] = []
        self.posted: list[dict[str, Any]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        if request.method == "POST":
            self.posted.append(json.loads(request.content))
            return httpx.Response(200, json={})
        if self.polls:
            status, body = self.polls.pop(0)
            return httpx.Response(status, json=body)
        for _ in range(500):
            if len(self.posted) >= self.results:
                break
            await asyncio.sleep(0.01)
        return httpx.Response(200, json={"requests": [], "running": False, "cursor": 2})


def serving(service: Service) -> ChannelServer:
    upstream = TeamUpstream(TeamSettings("http://team.test/services/oui/", "alice-token"))
    upstream._http = httpx.AsyncClient(transport=httpx.MockTransport(service))
    return ChannelServer(
        upstream,
        ToolRegistry([Echo()], entry_points=False),
        ALICE,
        root_dir="/home/alice",
        notebook_path="a.ipynb",
        names={"echo"},
        channel="c" * 32,
    )


def request(call_id: str, name: str = "echo", seq: int = 1) -> dict[str, Any]:
    return {
        "seq": seq,
        "call_id": call_id,
        "name": name,
        "arguments": {"text": "hi"},
        "tool_call_id": "call_1",
        "chat_id": "chat1",
        "message_id": "m1",
    }


async def test_it_runs_each_call_once_and_stops_with_the_turn() -> None:
    service = Service(
        [
            (404, {"detail": "no such tool channel"}),  # the turn is on its way
            (200, {"requests": [request("a")], "running": True, "cursor": 1}),
            (
                200,
                {"requests": [request("a"), request("b", "sql", 2)], "running": True, "cursor": 2},
            ),
        ],
        results=2,
    )
    server = serving(service)
    server.start(set())
    assert server.task is not None
    await asyncio.wait_for(server.task, 10)
    polls = [r for r in service.asked if r.method == "GET"]
    assert [r.url.params["after"] for r in polls] == ["0", "0", "1", "2"]
    assert polls[0].url.path == f"/services/oui/oui/api/v1/tools/channel/{'c' * 32}/requests"
    assert polls[0].headers["Authorization"] == "token alice-token"
    assert sorted(service.posted, key=lambda p: p["call_id"]) == [
        {"call_id": "a", "content": "echo hi", "data": {"n": 1}, "sources": []},
        {"call_id": "b", "error": "sql is not one of the tools this server offered"},
    ]
    context = Echo.contexts[-1]
    assert (context.user, context.root_dir, context.notebook_path) == (
        ALICE,
        "/home/alice",
        "a.ipynb",
    )
    assert (context.chat_id, context.message_id, context.call_id) == ("chat1", "m1", "call_1")


async def test_it_stops_when_the_turn_is_refused_or_its_channel_is_gone() -> None:
    refused = serving(Service([(404, {})] * 1000))
    refused.start(set())
    refused.answered(422)
    assert refused.task is not None
    await asyncio.wait({refused.task}, timeout=10)
    assert refused.task.cancelled()

    gone = serving(Service([(404, {})]))
    gone.answered(200)
    gone.start(set())
    assert gone.task is not None
    await asyncio.wait_for(gone.task, 10)  # a 404 once the turn was taken: over


def test_the_specs_sent_are_the_local_tools_named() -> None:
    registry = ToolRegistry([Echo()], entry_points=False)
    specs = local_tool_specs(registry, ALICE, ["remember", "echo", "echo", 3])
    assert specs == [
        {
            "name": "echo",
            "description": "says it back",
            "parameters": Echo.parameters,
            "requires_approval": True,
        }
    ]
    assert local_tool_specs(registry, ALICE, "echo") == []


def test_a_result_too_large_loses_its_data_then_its_tail() -> None:
    big = {"content": "ok", "data": "x" * MAX_RESULT_BYTES, "sources": []}
    assert json.loads(result_body("a", big)) == {
        "call_id": "a",
        "content": "ok",
        "data": None,
        "sources": [],
    }
    huge = {"content": "y" * MAX_RESULT_BYTES, "data": None, "sources": []}
    body = result_body("a", huge)
    assert len(body) <= MAX_RESULT_BYTES and json.loads(body)["content"].endswith("[cut]")
