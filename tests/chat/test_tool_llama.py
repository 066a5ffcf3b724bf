"""The prompt-based tool fallback against a real llama.cpp server running SmolLM2: protocol
and structure (a status and a stored call, or a plain answer), never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from chat.helpers import llama_settings, sse_events
from chat.tool_support import install_tools

pytestmark = pytest.mark.llm


@pytest.fixture
def oui_extra_config(llama_server: str) -> dict[str, Any]:
    return llama_settings(llama_server, tool_max_rounds=2)


@pytest.mark.parametrize("stream", [True, False])
async def test_smollm2_calls_a_tool_by_prompt(api, new_chat, jp_serverapp, stream):
    assert (await api("GET", "v1/tools/")).code == 200
    echo, _ = await install_tools(jp_serverapp)
    chat_id = await new_chat(model="smollm2")
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "chat_id": chat_id,
            "stream": stream,
            "messages": [
                {"role": "user", "content": "Call the echo tool with the text 'penguin'."}
            ],
            "tool_ids": ["echo"],
            "params": {"function_calling": "default"},
            "max_tokens": 60,
            "temperature": 0.0,
        },
        timeout=120,
    )
    assert r.code == 200, r.body
    if stream:
        events = [d for _, d in sse_events(r.body) if isinstance(d, dict)]
        assert not any("error" in d for d in events), events
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = chat["history"]["messages"][chat["history"]["currentId"]]
    assert answer["done"] is True and "error" not in answer
    records = answer.get("tool_calls") or []
    if records:  # the model called: the call ran (or its arguments were refused) and is kept
        assert records[0]["name"] == "echo"
        assert records[0]["status"] in ("done", "error")
        assert records[0]["result"]
        assert len(echo.calls) == sum(r["status"] == "done" for r in records)
        if stream:
            statuses = [d["status"]["description"] for d in events if "status" in d]
            assert "Running echo…" in statuses
    else:  # it answered without calling
        assert answer["content"].strip() and echo.calls == []
    # the first request told the model about the tools in its system prompt
