"""A turn's tool channel across two replicas of the team service joined by the real PostgreSQL
bus (``team/bus.py``), in one process: the turn runs on one, the client's polls and results
land on the other."""

from __future__ import annotations

import asyncio

import pytest
from support.team_replicas import team_database

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.services.users import UserInfo
from oui_jupyter.team.bus import PgBus
from oui_jupyter.tools.base import ToolContext
from oui_jupyter.tools.channel import ToolChannels
from oui_jupyter.tools.registry import ToolRegistry

ALICE = UserInfo("alice", "alice", "Alice", "user", ())
BOB = UserInfo("bob", "bob", "Bob", "user", ())
CHANNEL = "r" * 32
SPEC = {"name": "read_file", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture(scope="module")
def database() -> object:
    with team_database() as url:
        yield url


async def test_a_channel_is_served_through_the_other_replica(database: str) -> None:
    loop = asyncio.get_running_loop()
    buses = [PgBus(database, channel="oui_test_tool_channels") for _ in range(2)]
    turn_side, other = ToolChannels(), ToolChannels()
    for channels, bus in zip((turn_side, other), buses, strict=True):
        channels.connect(bus)
        await asyncio.to_thread(bus.start, loop)
    try:
        with pytest.raises(NotFound):  # before the turn: the client asks again
            await other.poll(ALICE, CHANNEL, 0, 10)
        tools = turn_side.open(ALICE, CHANNEL, [SPEC], ToolRegistry(entry_points=False))
        early = asyncio.ensure_future(other.poll(ALICE, CHANNEL, 0, 10))
        await asyncio.sleep(0.2)
        assert not early.done()  # the channel is there: the poll waits for a call
        context = ToolContext(ALICE, "/srv", call_id="call_1")
        call = asyncio.ensure_future(tools.run("read_file", {}, context))
        answer = await early
        assert answer["running"] and [r["name"] for r in answer["requests"]] == ["read_file"]
        call_id = answer["requests"][0]["call_id"]
        with pytest.raises(NotFound):
            await other.poll(BOB, CHANNEL, 0, 0)
        with pytest.raises(NotFound):
            await other.post_result(BOB, CHANNEL, {"call_id": call_id, "content": "x"})
        with pytest.raises(NotFound):
            await other.post_result(ALICE, CHANNEL, {"call_id": "nope", "content": "x"})
        big = "é" * 20_000  # past NOTIFY's 8000 bytes: the bus sends it in pieces
        await other.post_result(ALICE, CHANNEL, {"call_id": call_id, "content": big})
        assert (await call).content == big
        with pytest.raises(Conflict):
            await other.post_result(ALICE, CHANNEL, {"call_id": call_id, "content": "x"})
        waiting = asyncio.ensure_future(other.poll(ALICE, CHANNEL, answer["cursor"], 10))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        tools.close()
        assert (await waiting)["running"] is False
    finally:
        for bus in buses:
            await asyncio.to_thread(bus.close)
