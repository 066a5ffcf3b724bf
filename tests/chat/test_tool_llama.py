"""The prompt-based tool fallback against a real llama.cpp server running SmolLM2, through a
recording proxy: protocol and structure, never wisdom. The tools are offered in the system
prompt (no ``tools`` field); whatever the model answers is either a call, which runs and
whose result is told back in the agreed words, or a plain answer; the turn is stored with
its calls and never ends in an error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.recording_proxy import RecordingProxy

from chat.helpers import llama_settings, sse_events, sse_text
from chat.tool_support import install_tools
from oui_jupyter.services.tool_loop import PROMPT_LAST

pytestmark = pytest.mark.llm

MAX_ROUNDS = 2


@pytest.fixture
def proxy(llama_server: str) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy(llama_server).start()
    yield recorder
    recorder.stop()


@pytest.fixture
def oui_extra_config(proxy: RecordingProxy) -> dict[str, Any]:
    return llama_settings(proxy.base_url, tool_max_rounds=MAX_ROUNDS)


def completions(proxy: RecordingProxy) -> list[dict[str, Any]]:
    return [r for r in proxy.requests if "messages" in r]


#: llama.cpp's JSON-schema grammar: every reply of the model is a call of echo (the model
#: still chooses the text), so the call rounds run whatever the tiny model would have done
FORCED = {
    "type": "json_object",
    "schema": {
        "type": "object",
        "properties": {
            "tool": {"const": "echo"},
            "arguments": {
                "type": "object",
                "properties": {"text": {"type": "string", "maxLength": 24}},
                "required": ["text"],
            },
        },
        "required": ["tool", "arguments"],
    },
}


@pytest.mark.parametrize("forced", [False, True], ids=["free", "forced-json"])
@pytest.mark.parametrize("stream", [True, False])
async def test_smollm2_calls_a_tool_by_prompt(api, new_chat, jp_serverapp, proxy, stream, forced):
    assert (await api("GET", "v1/tools/")).code == 200
    echo, _ = await install_tools(jp_serverapp)
    chat_id = await new_chat(model="smollm2")
    ask = "Call the echo tool with the text 'penguin'."
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "chat_id": chat_id,
            "stream": stream,
            "messages": [{"role": "user", "content": ask}],
            "tool_ids": ["echo"],
            "params": {"function_calling": "default"},
            "max_tokens": 60,
            "temperature": 0.0,
            **({"response_format": FORCED} if forced else {}),
        },
        timeout=180,
    )
    assert r.code == 200, r.body
    if stream:
        events = [d for _, d in sse_events(r.body) if isinstance(d, dict)]
        assert not any("error" in d for d in events), events
        shown = sse_text(r.body)
    else:
        shown = r.json()["choices"][0]["message"]["content"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = chat["history"]["messages"][chat["history"]["currentId"]]
    assert answer["done"] is True and "error" not in answer
    assert answer["content"] == shown  # what the client was shown is what is kept
    records = answer.get("tool_calls") or []
    sent = completions(proxy)

    # the first request offers the tool in the system prompt, not as OpenAI ``tools``
    first = sent[0]
    assert "tools" not in first and "tool_choice" not in first
    system, user = first["messages"][0], first["messages"][-1]
    assert (
        system["role"] == "system"
        and "To call a tool, reply with one JSON object" in (system["content"])
    )
    schema = json.dumps(echo.parameters, separators=(",", ":"))
    assert f"- echo: {echo.description} Arguments (JSON Schema): {schema}" in system["content"]
    assert user == {"role": "user", "content": ask}

    # one request per round of calls, plus the one that answered
    rounds = sorted({rec["round"] for rec in records})
    assert rounds == list(range(len(rounds))) and len(rounds) <= MAX_ROUNDS
    assert len(sent) == len(rounds) + 1, [m["messages"][-1] for m in sent]
    for rec in records:
        assert rec["name"] == "echo" and rec["status"] in ("done", "error"), rec
        assert rec["result"] and rec["offset"] <= len(answer["content"])
        assert rec["approval"] == "auto" and rec["duration_ms"] >= 0
        if rec["status"] == "done":
            assert rec["result"] == f"echo: {json.loads(rec['arguments'])['text']}"
        # the next request told the model the call (as JSON) and its result, in the agreed words
        following = [m for m in sent[rec["round"] + 1]["messages"] if m["role"] != "system"]
        call, told = following[-2:]
        assert call["role"] == "assistant"
        assert json.loads(call["content"]) == {
            "tool": "echo",
            "arguments": json.loads(rec["arguments"] or "{}"),
        }
        assert told["role"] == "user"
        assert told["content"].startswith(f"The tool echo answered:\n{rec['result']}\n\n")
    assert len(echo.calls) == sum(rec["status"] == "done" for rec in records)
    if len(rounds) == MAX_ROUNDS:  # the rounds ran out: the last request asks for text only
        assert sent[-1]["messages"][-1] == {"role": "system", "content": PROMPT_LAST}
    if stream and records:
        statuses = [d["status"]["description"] for d in events if "status" in d]
        assert "Running echo…" in statuses
    if not records:  # it answered without calling: the answer is its text
        assert answer["content"].strip() and echo.calls == []
    if forced:  # a call each round until they ran out; the last reply is shown as text
        assert [rec["round"] for rec in records] == list(range(MAX_ROUNDS))
        assert all(rec["status"] == "done" for rec in records), records
        assert json.loads(answer["content"])["tool"] == "echo"
