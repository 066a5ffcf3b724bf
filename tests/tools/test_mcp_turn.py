"""An MCP server's tool in a chat turn: the admin's stdio server ``local`` (the SDK's own
echo server, started by the test's config; ``requires_approval`` False) offered through
``tool_ids`` on ``chat/completions``, called natively by the scripted upstream; the
server runs it and feeds its result back as the ``tool`` message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chat.helpers import scripted_settings, sse_text
from support.scripted_openai import ScriptedOpenAI

from .test_mcp import echo_port, mcp_config, pid_file  # noqa: F401  (fixtures)

ADD = "mcp__local__add"


@pytest.fixture
def oui_extra_config(
    jp_root_dir: Path,
    echo_port: int,  # noqa: F811
    pid_file: Path,  # noqa: F811
    scripted_openai: ScriptedOpenAI,
) -> dict[str, Any]:
    return {
        **scripted_settings(scripted_openai.base_url, completion_timeout=10.0),
        **mcp_config(jp_root_dir, echo_port, pid_file),
    }


def assert_upstream_got_the_result(scripted_openai: ScriptedOpenAI) -> str:
    """The upstream offered the MCP tool, made the call, and was told its result; the id."""
    first, second = scripted_openai.requests[-2:]
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert list(offered) == [ADD]
    assert offered[ADD]["parameters"]["required"] == ["a", "b"]
    assistant, tool = second["messages"][-2:]
    (call,) = assistant["tool_calls"]
    assert call["function"]["name"] == ADD
    assert json.loads(call["function"]["arguments"]) == {"a": 40, "b": 2}
    assert tool == {"role": "tool", "tool_call_id": call["id"], "content": "42"}
    return str(call["id"])


@pytest.mark.parametrize("stream", [True, False])
async def test_mcp_tool_runs_in_a_saved_turn(api, scripted_openai, stream):
    scripted_openai.tool_script = [[(ADD, {"a": 40, "b": 2})]]
    r = await api("POST", "v1/chats/new", {"chat": {"title": "mcp", "models": ["toolcall"]}})
    assert r.code == 200, r.body
    chat_id = r.json()["id"]
    body = {
        "model": "toolcall",
        "chat_id": chat_id,
        "stream": stream,
        "messages": [{"role": "user", "content": "what is 40 + 2?"}],
        "tool_ids": [ADD],
    }
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    text = sse_text(r.body) if stream else r.json()["choices"][0]["message"]["content"]
    assert text == "Checking. Tool said: 42"
    call_id = assert_upstream_got_the_result(scripted_openai)

    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = chat["history"]["messages"][chat["history"]["currentId"]]
    (record,) = answer["tool_calls"]
    assert record["id"] == call_id and record["name"] == ADD
    assert json.loads(record["arguments"]) == {"a": 40, "b": 2}
    assert (record["status"], record["result"], record["approval"]) == ("done", "42", "auto")
    assert record["data"]["structured_content"] == {"result": 42}


async def test_mcp_tool_without_a_chat(api, scripted_openai):
    scripted_openai.tool_script = [[(ADD, {"a": 40, "b": 2})]]
    body = {
        "model": "toolcall",
        "messages": [{"role": "user", "content": "what is 40 + 2?"}],
        "tool_ids": [ADD],
    }
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    assert r.json()["choices"][0]["message"]["content"] == "Checking. Tool said: 42"
    assert_upstream_got_the_result(scripted_openai)
