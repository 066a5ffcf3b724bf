"""Tool channels on the service's side (``oui_jupyter/tools/channel.py``), no server: a turn's
``TurnTools``, its ``RemoteTool`` calls, the client's polls and results, and two replicas
joined by a bus (in memory here; on PostgreSQL in tests/team/test_tool_channel_replicas.py)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from chat.tool_support import EchoTool

from oui_jupyter.errors import Conflict, InvalidInput, NotFound
from oui_jupyter.services.users import UserInfo
from oui_jupyter.tools.base import ToolContext, ToolError, ToolResult, ToolTimeout
from oui_jupyter.tools.channel import MAX_CLIENT_TOOLS, ToolChannels, TurnTools
from oui_jupyter.tools.registry import ToolRegistry

ALICE = UserInfo("alice", "alice", "Alice", "user", ())
BOB = UserInfo("bob", "bob", "Bob", "admin", ())
CHANNEL = "c" * 32
READ = {
    "name": "read_file",
    "description": "Read a file of the user's workspace",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
}


def registry() -> ToolRegistry:
    return ToolRegistry([EchoTool()], entry_points=False)


def context(user: UserInfo = ALICE) -> ToolContext:
    return ToolContext(user=user, root_dir="/nowhere", chat_id="chat1", call_id="call_1")


@pytest.mark.parametrize(
    "specs, says",
    [
        ("read_file", "must be a list"),
        ([{"name": "bad name!", "parameters": {"type": "object"}}], "is not 1-64"),
        ([{"name": "x", "parameters": {"type": "array"}}], '"type": "object"'),
        ([{"name": "x", "parameters": {"type": "object", "properties": 3}}], "not a valid"),
        ([READ, READ], "twice"),
        ([{"name": "x", "description": 7}], "description"),
        ([{"name": "x", "requires_approval": "yes"}], "requires_approval"),
        ([{"name": f"t{i}"} for i in range(MAX_CLIENT_TOOLS + 1)], "at most 32"),
    ],
)
def test_bad_client_tools_are_refused(specs: Any, says: str) -> None:
    channels = ToolChannels()
    with pytest.raises(InvalidInput, match=says):
        channels.open(ALICE, CHANNEL, specs, registry())
    assert channels._channels == {}


def test_a_channel_id_must_be_long_random_letters_and_be_free() -> None:
    channels = ToolChannels()
    for bad in ("short", "x" * 65, "a/" * 10, None):
        with pytest.raises(InvalidInput):
            channels.open(ALICE, bad, [READ], registry())
    channels.open(ALICE, CHANNEL, [READ], registry())
    with pytest.raises(Conflict):
        channels.open(BOB, CHANNEL, [READ], registry())


def test_turn_tools_find_the_clients_tools_first_then_the_registrys() -> None:
    tools = ToolChannels().open(ALICE, CHANNEL, [READ], registry())
    remote = tools.get("read_file", ALICE)
    assert remote.source == "client" and remote.tool.parameters == READ["parameters"]
    assert remote.describe()["spec"]["name"] == "read_file"
    assert tools.get("echo", ALICE).source == "builtin"
    with pytest.raises(NotFound):
        tools.get("sql", ALICE)


async def serve_once(channels: ToolChannels, user: UserInfo, result: dict[str, Any]) -> Any:
    """What a client does for one call: poll, then post ``result`` for the call it got."""
    answer = await channels.poll(user, CHANNEL, 0, 5)
    request = answer["requests"][0]
    await channels.post_result(user, CHANNEL, {"call_id": request["call_id"], **result})
    return request


async def test_a_remote_call_goes_to_the_poll_and_its_result_comes_back() -> None:
    channels = ToolChannels()
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    call = asyncio.ensure_future(tools.run("read_file", '{"path": "a.py"}', context()))
    request = await serve_once(
        channels, ALICE, {"content": "print(1)", "data": {"lines": 1}, "sources": [{"x": 1}, 2]}
    )
    result = await call
    assert (result.content, result.data, result.sources) == ("print(1)", {"lines": 1}, [{"x": 1}])
    assert request["name"] == "read_file" and request["arguments"] == {"path": "a.py"}
    assert (request["tool_call_id"], request["chat_id"], request["seq"]) == ("call_1", "chat1", 1)
    assert await tools.run("echo", {"text": "hi"}, context()) == ToolResult(
        "echo: hi", data={"echoed": "hi"}
    )


async def test_an_error_from_the_client_is_the_models_tool_error() -> None:
    channels = ToolChannels()
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    call = asyncio.ensure_future(tools.run("read_file", {"path": "../x"}, context()))
    await serve_once(channels, ALICE, {"error": "'../x' is outside the workspace"})
    with pytest.raises(ToolError, match=re.escape("read_file: '../x' is outside the workspace")):
        await call


async def test_arguments_are_checked_before_anything_is_sent() -> None:
    channels = ToolChannels()
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    with pytest.raises(ToolError, match="invalid arguments"):
        await tools.run("read_file", {"path": 3}, context())
    assert (await channels.poll(ALICE, CHANNEL, 0, 0))["requests"] == []


async def test_another_users_channel_does_not_exist_for_them() -> None:
    channels = ToolChannels()
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    await asyncio.sleep(0)
    with pytest.raises(NotFound):
        await channels.poll(BOB, CHANNEL, 0, 0)  # an admin too
    request = (await channels.poll(ALICE, CHANNEL, 0, 0))["requests"][0]
    with pytest.raises(NotFound):
        await channels.post_result(BOB, CHANNEL, {"call_id": request["call_id"], "content": "x"})
    assert not call.done()
    await channels.post_result(ALICE, CHANNEL, {"call_id": request["call_id"], "content": "ok"})
    assert (await call).content == "ok"


async def test_results_for_unknown_or_answered_calls_are_refused() -> None:
    channels = ToolChannels()
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    with pytest.raises(NotFound):
        await channels.post_result(ALICE, CHANNEL, {"call_id": "nope", "content": "x"})
    with pytest.raises(NotFound):
        await channels.post_result(ALICE, "d" * 32, {"call_id": "nope", "content": "x"})
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    request = await serve_once(channels, ALICE, {"content": "first"})
    with pytest.raises(Conflict):
        await channels.post_result(ALICE, CHANNEL, {"call_id": request["call_id"], "content": "2"})
    assert (await call).content == "first"


async def test_a_call_nobody_picks_up_times_out_for_the_model() -> None:
    channels = ToolChannels(pickup_timeout=0.05)
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    with pytest.raises(ToolTimeout, match="did not pick up the call"):
        await tools.run("read_file", {"path": "a"}, context())
    assert channels._channels[CHANNEL].calls == {}


async def test_a_call_picked_up_but_never_answered_times_out() -> None:
    channels = ToolChannels(timeout=0.05)
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    request = (await channels.poll(ALICE, CHANNEL, 0, 5))["requests"][0]
    with pytest.raises(ToolTimeout, match="no answer"):
        await call
    with pytest.raises(NotFound):  # too late: the call is gone
        await channels.post_result(ALICE, CHANNEL, {"call_id": request["call_id"], "content": "x"})


async def test_a_poll_waits_for_a_call_and_a_repeated_poll_gets_it_again() -> None:
    channels = ToolChannels()
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    poll = asyncio.ensure_future(channels.poll(ALICE, CHANNEL, 0, 5))
    await asyncio.sleep(0.01)
    assert not poll.done()  # nothing to run yet: the poll waits
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    first = await poll
    assert [r["seq"] for r in first["requests"]] == [1] and first["cursor"] == 1
    again = await channels.poll(ALICE, CHANNEL, 0, 0)  # the answer was lost: asked again
    assert again["requests"] == first["requests"]
    assert (await channels.poll(ALICE, CHANNEL, first["cursor"], 0))["requests"] == []
    await channels.post_result(
        ALICE, CHANNEL, {"call_id": first["requests"][0]["call_id"], "content": "ok"}
    )
    await call


async def test_a_poll_before_the_turn_is_404_at_once() -> None:
    channels = ToolChannels()
    with pytest.raises(NotFound):  # the client asks again until the turn opens it
        await channels.poll(ALICE, CHANNEL, 0, 60)
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    answer = await channels.poll(ALICE, CHANNEL, 0, 5)
    assert answer["running"] and answer["requests"][0]["name"] == "read_file"
    await channels.post_result(
        ALICE, CHANNEL, {"call_id": answer["requests"][0]["call_id"], "content": "x"}
    )
    await call


async def test_the_channel_ends_with_the_turn() -> None:
    channels = ToolChannels(linger=0.0)
    tools = channels.open(ALICE, CHANNEL, [READ], registry())
    waiting = asyncio.ensure_future(channels.poll(ALICE, CHANNEL, 0, 5))
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    await asyncio.sleep(0.01)
    await waiting
    tools.close()
    tools.close()  # idempotent
    with pytest.raises(ToolError, match="the turn ended"):
        await call
    assert (await channels.poll(ALICE, CHANNEL, 0, 5)) == {
        "requests": [],
        "running": False,
        "cursor": 0,
    }
    with pytest.raises(ToolError, match="the turn ended"):
        await tools.run("read_file", {"path": "a"}, context())
    channels.open(ALICE, "f" * 32, [READ], registry())  # sweeps what lingered
    assert CHANNEL not in channels._channels


class MemoryBus:
    """Replicas' bus in memory: what one publishes reaches the others on the next loop turn."""

    def __init__(self, net: list[MemoryBus]) -> None:
        self.net = net
        net.append(self)
        self.handlers: dict[str, Any] = {}
        self.gathers: dict[str, tuple[int, list[dict[str, Any]], asyncio.Future[None]]] = {}
        self.count = 0

    def on(self, kind: str, handler: Any) -> None:
        self.handlers[kind] = handler

    def publish(self, kind: str, header: dict[str, Any] | None = None, body: str = "") -> None:
        head = {**(header or {}), "k": kind, "o": id(self)}
        loop = asyncio.get_running_loop()
        for bus in self.net:
            if bus is not self:
                loop.call_soon(bus.heard, head, body)

    def heard(self, head: dict[str, Any], body: str) -> None:
        if head["k"] == "reply":
            if head["to"] == id(self) and head["r"] in self.gathers:
                expected, replies, done = self.gathers[head["r"]]
                replies.append(head)
                if len(replies) == expected and not done.done():
                    done.set_result(None)
            return
        handler = self.handlers.get(head["k"])
        if handler is not None:
            handler(head, body)

    async def gather(self, kind: str, header: dict[str, Any]) -> list[dict[str, Any]]:
        self.count += 1
        request = str(self.count)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        replies: list[dict[str, Any]] = []
        self.gathers[request] = (len(self.net) - 1, replies, done)
        self.publish(kind, {**header, "r": request})
        await asyncio.wait_for(done, 2)
        del self.gathers[request]
        return replies

    def reply(self, request: dict[str, Any], answer: dict[str, Any]) -> None:
        self.publish("reply", {**answer, "r": request["r"], "to": request["o"]})


async def test_polls_and_results_reach_the_replica_running_the_turn() -> None:
    net: list[MemoryBus] = []
    turn_side, other, third = ToolChannels(), ToolChannels(), ToolChannels()
    for channels in (turn_side, other, third):
        channels.connect(MemoryBus(net))
    with pytest.raises(NotFound):  # before the turn
        await other.poll(ALICE, CHANNEL, 0, 5)
    tools = turn_side.open(ALICE, CHANNEL, [READ], registry())
    early = asyncio.ensure_future(other.poll(ALICE, CHANNEL, 0, 5))  # waits for a call
    await asyncio.sleep(0.01)
    assert not early.done()
    call = asyncio.ensure_future(tools.run("read_file", {"path": "a"}, context()))
    answer = await early
    assert [r["name"] for r in answer["requests"]] == ["read_file"] and answer["running"]
    with pytest.raises(NotFound):
        await third.poll(BOB, CHANNEL, 0, 0)
    with pytest.raises(NotFound):
        await third.post_result(
            BOB, CHANNEL, {"call_id": answer["requests"][0]["call_id"], "content": "x"}
        )
    await third.post_result(
        ALICE, CHANNEL, {"call_id": answer["requests"][0]["call_id"], "content": "from far"}
    )
    assert (await call).content == "from far"
    with pytest.raises(Conflict):
        await other.post_result(
            ALICE, CHANNEL, {"call_id": answer["requests"][0]["call_id"], "content": "x"}
        )
    waiting = asyncio.ensure_future(other.poll(ALICE, CHANNEL, answer["cursor"], 5))
    await asyncio.sleep(0.01)
    tools.close()
    assert (await waiting)["running"] is False  # woken by the end, over the bus


def test_turn_tools_without_client_tools_are_the_registry() -> None:
    tools = TurnTools(registry())
    assert tools.get("echo", ALICE).source == "builtin"
    tools.close()
    assert tools.closed
