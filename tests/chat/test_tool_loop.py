"""The server-side tool loop through every path, against a scripted upstream that calls
tools natively (``toolcall``) or by prompt (``jsoncall``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support.polling import eventually

from chat.helpers import frames_until, is_done, scripted_settings, sse_events, sse_text
from chat.tool_support import install_tools

pytestmark = pytest.mark.storage  # turns are saved: SQLite and PostgreSQL

ANSWER = "Checking. Tool said: echo: hi"


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(
        scripted_openai.base_url,
        tool_max_rounds=2,
        tool_policy={"sql": "deny"},
        completion_timeout=5.0,
    )


@pytest.fixture
def tools(jp_serverapp: Any, api: Any) -> Any:
    """``await tools()``: the test tools ``echo`` and ``guarded``, on the server's registry."""

    async def install() -> Any:
        assert (await api("GET", "v1/tools/")).code == 200  # the services are built
        return await install_tools(jp_serverapp)

    return install


def turn(**extra: Any) -> dict[str, Any]:
    return {
        "model": "toolcall",
        "messages": [{"role": "user", "content": "use the tool"}],
        "tool_ids": ["echo"],
        **extra,
    }


def assert_second_request(scripted_openai: Any) -> None:
    first, second = scripted_openai.requests[-2:]
    assert [t["function"]["name"] for t in first["tools"]] == ["echo"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["text"]
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] == "Checking. "
    call = assistant["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "echo"
    assert json.loads(call["function"]["arguments"]) == {"text": "hi"}
    assert tool == {"role": "tool", "tool_call_id": call["id"], "content": "echo: hi"}


async def test_stream_without_chat(api, tools, scripted_openai):
    installed = await tools()
    r = await api("POST", "chat/completions", turn(stream=True))
    assert r.code == 200, r.body
    events = sse_events(r.body)
    assert sse_text(r.body) == ANSWER
    chunks = [d for _, d in events if isinstance(d, dict)]
    # the server ran the call: the client never sees its tool_calls nor a tool_calls finish
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks if c.get("choices"))
    assert not any(
        c["choices"][0].get("finish_reason") == "tool_calls" for c in chunks if c.get("choices")
    )
    statuses = [c["status"] for c in chunks if "status" in c]
    assert {"description": "Running echo…", "done": False} in statuses
    assert {"description": "Running echo…", "done": True} in statuses
    assert_second_request(scripted_openai)
    echo, _ = installed
    assert echo.calls[0][0] == {"text": "hi"} and echo.calls[0][1].chat_id is None


async def test_not_streamed_without_chat(api, tools, scripted_openai):
    await tools()
    r = await api("POST", "chat/completions", turn())
    assert r.code == 200, r.body
    message = r.json()["choices"][0]["message"]
    assert message["content"] == ANSWER and "tool_calls" not in message
    assert_second_request(scripted_openai)


async def test_unknown_tool_is_404_before_anything_is_written(api, tools, new_chat):
    await tools()
    chat_id = await new_chat(model="toolcall")
    for body in (turn(tool_ids=["nope"]), turn(tool_ids=["echo", "nope"], chat_id=chat_id)):
        r = await api("POST", "chat/completions", body)
        assert r.code == 404 and r.json()["message"] == "tool nope not found"
        assert r.json()["detail"] == "tool nope not found"
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "x", "tool_ids": ["nope"]})
    assert r.code == 404
    r = await api("POST", "chat/completions", turn(tool_ids=["x"] * 33))
    assert r.code == 422
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    assert chat["history"]["messages"] == {}


async def test_chat_keeps_the_calls_and_replays_them(api, tools, new_chat, scripted_openai):
    installed = await tools()
    chat_id = await new_chat(model="toolcall")
    r = await api("POST", "chat/completions", turn(chat_id=chat_id, stream=True))
    assert r.code == 200 and sse_text(r.body) == ANSWER
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = chat["history"]["messages"][chat["history"]["currentId"]]
    assert answer["content"] == ANSWER
    (record,) = answer["tool_calls"]
    assert record["name"] == "echo" and json.loads(record["arguments"]) == {"text": "hi"}
    assert record["status"] == "done" and record["result"] == "echo: hi"
    assert record["offset"] == len("Checking. ") and record["round"] == 0
    assert record["approval"] == "auto" and record["data"] == {"echoed": "hi"}
    assert record["duration_ms"] >= 0 and record["started_at"] > 0
    echo, _ = installed
    assert echo.calls[-1][1].chat_id == chat_id and echo.calls[-1][1].message_id == answer["id"]
    # the next turn (v1/chats/{id}/message, not streamed) re-sends the call and its result
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "again", "tool_ids": ["echo"]})
    assert r.code == 200, r.body
    assert r.json()["content"] == ANSWER and r.json()["tool_calls"][0]["status"] == "done"
    replayed = scripted_openai.requests[-2]["messages"]
    roles = [m["role"] for m in replayed]
    assert roles == ["user", "assistant", "tool", "assistant", "user"], roles
    assert (
        replayed[1]["content"] == "Checking. "
        and replayed[1]["tool_calls"][0]["id"] == record["id"]
    )
    assert replayed[2]["content"] == "echo: hi"
    assert replayed[3] == {"role": "assistant", "content": "Tool said: echo: hi"}
    # exports carry the records as they are
    exported = (await api("GET", f"v1/chats/{chat_id}/export", params={"format": "json"})).body
    assert b'"tool_calls"' in exported
    markdown = (await api("GET", f"v1/chats/{chat_id}/export", params={"format": "markdown"})).body
    assert b"> Tool `echo` (done)" in markdown


async def test_live_mode_sends_tool_call_frames(api, tools, new_chat, ws_connect):
    await tools()
    ws = await ws_connect()
    chat_id = await new_chat(model="toolcall")
    r = await api("POST", "chat/completions", turn(chat_id=chat_id, stream=True, session_id="s1"))
    assert r.code == 200, r.body
    message_id = r.json()["message_id"]
    frames = await frames_until(ws, is_done(message_id))
    calls = [f for f in frames if f["type"] == "tool:call"]
    assert [f["data"]["status"] for f in calls] == ["running", "done"]
    assert all(f["chat_id"] == chat_id and f["message_id"] == message_id for f in calls)
    assert calls[-1]["data"]["result"] == "echo: hi"
    statuses = [f["data"] for f in frames if f["type"] == "status"]
    assert {"description": "Running echo…", "done": False} in statuses
    final = frames[-1]["data"]
    assert final["content"] == ANSWER and final["tool_calls"][0]["status"] == "done"


async def test_rounds_stop_at_the_limit(api, tools, scripted_openai):
    await tools()
    scripted_openai.tool_script = [[("echo", {"text": str(i)})] for i in range(5)]
    r = await api("POST", "chat/completions", turn())
    assert r.code == 200, r.body
    # two rounds (tool_max_rounds = 2), then a request without tools that answers in text
    assert len(scripted_openai.requests) == 3
    assert "tools" in scripted_openai.requests[1] and "tools" not in scripted_openai.requests[2]
    assert r.json()["choices"][0]["message"]["content"].endswith("echo: 0 | echo: 1")


async def test_calls_after_the_last_round_are_not_run(api, tools, scripted_openai):
    """A model that calls tools though the last request offered none: its answer ends."""
    installed = await tools()
    scripted_openai.tool_script = [[("echo", {"text": str(i)})] for i in range(5)]
    original = scripted_openai._tool_round

    def always_calls(request: Any, model: str) -> Any:
        if "tools" not in request:
            return [("echo", {"text": "late"})], None
        return original(request, model)

    scripted_openai._tool_round = always_calls
    try:
        r = await api("POST", "chat/completions", turn())
    finally:
        scripted_openai._tool_round = original
    assert r.code == 200, r.body
    assert len(scripted_openai.requests) == 3
    echo, _ = installed
    assert [args["text"] for args, _ in echo.calls] == ["0", "1"]


async def test_concurrent_calls_and_bad_arguments(api, tools, new_chat, scripted_openai):
    await tools()
    scripted_openai.tool_script = [
        [("echo", {"text": "a"}), ("echo", {"wrong": 1}), ("sql", {"query": "select 1"})]
    ]
    chat_id = await new_chat(model="toolcall")
    r = await api(
        "POST", "chat/completions", turn(chat_id=chat_id, tool_ids=["echo", "sql"], stream=False)
    )
    assert r.code == 200, r.body
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    records = chat["history"]["messages"][chat["history"]["currentId"]]["tool_calls"]
    assert [r["status"] for r in records] == ["done", "error", "denied"]
    assert "text" in records[1]["result"]  # the schema's complaint goes to the model
    assert records[2]["approval"] == "denied"
    tool_messages = [m for m in scripted_openai.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [r["id"] for r in records]


async def test_prompt_based_calling(api, tools, new_chat, scripted_openai):
    await tools()
    chat_id = await new_chat(model="jsoncall")
    body = turn(
        model="jsoncall", chat_id=chat_id, stream=True, params={"function_calling": "default"}
    )
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    assert sse_text(r.body) == "Tool said: echo: hi"  # the JSON call itself is not shown
    first = scripted_openai.requests[0]
    assert "tools" not in first and "function_calling" not in first
    assert "To call a tool" in first["messages"][0]["content"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    (record,) = chat["history"]["messages"][chat["history"]["currentId"]]["tool_calls"]
    assert record["name"] == "echo" and record["status"] == "done" and record["offset"] == 0


async def test_stop_during_a_call_ends_the_turn(api, tools, new_chat, jp_serverapp):
    """A call that waits (for approval) is cancelled with the turn by Stop."""
    installed = await tools()
    chat_id = await new_chat(model="toolcall")
    r = await api(
        "POST",
        "chat/completions",
        turn(chat_id=chat_id, stream=True, session_id="s1", tool_ids=["guarded"]),
    )
    assert r.code == 200
    approvals = jp_serverapp.web_app.settings["oui_runtime"].services.completions.tools.approvals
    await eventually(lambda: approvals.waiting("alice"))
    assert (await api("POST", f"tasks/chat/{chat_id}/stop")).code == 200
    await eventually(lambda: not approvals.waiting("alice"))
    _, guarded = installed
    assert guarded.calls == []
    await asyncio.sleep(0)
