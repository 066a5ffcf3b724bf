"""A client's own ``tools`` (no ``tool_ids``) pass through: the model's ``tool_calls`` go back
to the client as OpenAI returns them, streamed and not; the client runs them and sends the
results, as agents (the ``openai`` client's users, LangChain, litellm) do."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from chat.helpers import scripted_settings

pytestmark = pytest.mark.storage

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
}


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url, completion_timeout=5.0)


async def agent_turn(oai: Any, stream: bool, **extra: Any) -> tuple[str, list[Any]]:
    """One round of a client-side agent: ask, run the model's calls itself, ask again."""
    messages: list[Any] = [{"role": "user", "content": "weather?"}]
    kwargs: dict[str, Any] = {"model": "toolcall", "tools": [WEATHER], **extra}
    if stream:
        calls: dict[int, dict[str, Any]] = {}
        reasons = []
        async for chunk in await oai.chat.completions.create(
            messages=messages, stream=True, **kwargs
        ):
            for choice in chunk.choices:
                reasons.append(choice.finish_reason)
                for delta in choice.delta.tool_calls or []:
                    call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = delta.id or call["id"]
                    call["name"] += (delta.function and delta.function.name) or ""
                    call["arguments"] += (delta.function and delta.function.arguments) or ""
        assert "tool_calls" in reasons
        found = [calls[i] for i in sorted(calls)]
    else:
        answer = await oai.chat.completions.create(messages=messages, **kwargs)
        assert answer.choices[0].finish_reason == "tool_calls"
        found = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in answer.choices[0].message.tool_calls or []
        ]
    assert [c["name"] for c in found] == ["weather"]
    assert json.loads(found[0]["arguments"]) == {"text": "hi"}
    messages.append(
        {
            "role": "assistant",
            "content": "Checking. ",
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in found
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": found[0]["id"], "content": "sunny"})
    extra.pop("extra_body", None)
    final = await oai.chat.completions.create(messages=messages, **kwargs)
    return final.choices[0].message.content or "", found


@pytest.mark.parametrize("stream", [True, False])
async def test_openai_client_runs_its_own_tools(oui_url, scripted_openai, stream):
    async with openai.AsyncOpenAI(base_url=oui_url, api_key="alice-token", max_retries=0) as oai:
        text, found = await agent_turn(oai, stream)
    assert text == "Tool said: sunny"
    first = scripted_openai.requests[0]
    assert first["tools"] == [WEATHER]  # untouched
    second = scripted_openai.requests[-1]["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": found[0]["id"], "content": "sunny"}
    assert second[-2]["tool_calls"][0]["id"] == found[0]["id"]


@pytest.mark.parametrize("stream", [True, False])
async def test_client_tools_in_a_saved_chat(api, new_chat, oui_url, scripted_openai, stream):
    chat_id = await new_chat(model="toolcall")
    async with openai.AsyncOpenAI(base_url=oui_url, api_key="alice-token", max_retries=0) as oai:
        answer = (
            await oai.chat.completions.create(
                model="toolcall",
                messages=[{"role": "user", "content": "weather?"}],
                tools=[WEATHER],
                stream=False,
                extra_body={"chat_id": chat_id},
            )
            if not stream
            else None
        )
        if answer is not None:
            message = answer.choices[0].message
            assert answer.choices[0].finish_reason == "tool_calls"
            assert message.tool_calls[0].function.name == "weather"
        else:
            names = []
            async for chunk in await oai.chat.completions.create(
                model="toolcall",
                messages=[{"role": "user", "content": "weather?"}],
                tools=[WEATHER],
                stream=True,
                extra_body={"chat_id": chat_id},
            ):
                for choice in chunk.choices:
                    names += [
                        d.function.name
                        for d in choice.delta.tool_calls or []
                        if d.function and d.function.name
                    ]
            assert names == ["weather"]
    assert scripted_openai.requests[-1]["tools"] == [WEATHER]


def litellm_round(base: str, messages: list[Any], stream: bool) -> dict[str, Any]:
    """One ``litellm.completion`` through oui (blocking: run it in a thread): the text, the
    finish reason and the tool calls as litellm hands them to its caller."""
    import litellm

    kwargs: dict[str, Any] = {
        "model": "openai/toolcall",
        "api_base": base,
        "api_key": "alice-token",
        "messages": messages,
        "tools": [WEATHER],
        "num_retries": 0,
    }
    if not stream:
        answer = litellm.completion(**kwargs)
        choice = answer.choices[0]
        return {
            "text": choice.message.content or "",
            "finish": choice.finish_reason,
            "calls": [
                {
                    "id": c.id,
                    "type": c.type,
                    "name": c.function.name,
                    "arguments": c.function.arguments,
                }
                for c in choice.message.tool_calls or []
            ],
        }
    text, finish, calls = "", None, {}
    for chunk in litellm.completion(stream=True, **kwargs):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            text += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(
                    delta.index, {"id": "", "type": "", "name": "", "arguments": ""}
                )
                call["id"] = delta.id or call["id"]
                call["type"] = delta.type or call["type"]
                call["name"] += (delta.function and delta.function.name) or ""
                call["arguments"] += (delta.function and delta.function.arguments) or ""
    return {"text": text, "finish": finish, "calls": [calls[i] for i in sorted(calls)]}


@pytest.mark.parametrize("stream", [True, False])
async def test_litellm_gets_the_tool_calls_unchanged(oui_url, scripted_openai, monkeypatch, stream):
    # litellm reads its model cost map from the package, never from the internet
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    messages: list[Any] = [{"role": "user", "content": "weather?"}]
    first = await asyncio.to_thread(litellm_round, oui_url, messages, stream)
    # what the upstream sent (scripted_openai: ids call_<request>_<i>, arguments as JSON)
    sent = {
        "id": f"call_{len(scripted_openai.requests)}_0",
        "type": "function",
        "name": "weather",
        "arguments": json.dumps({"text": "hi"}),
    }
    assert first["calls"] == [sent]
    assert first["finish"] == "tool_calls"
    assert scripted_openai.requests[-1]["tools"] == [WEATHER]
    messages.append(
        {
            "role": "assistant",
            "content": first["text"],
            "tool_calls": [
                {
                    "id": sent["id"],
                    "type": "function",
                    "function": {"name": "weather", "arguments": sent["arguments"]},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": sent["id"], "content": "sunny"})
    final = await asyncio.to_thread(litellm_round, oui_url, messages, stream)
    assert final["text"] == "Tool said: sunny" and final["calls"] == []
    told = scripted_openai.requests[-1]["messages"]
    assert told[-1] == {"role": "tool", "tool_call_id": sent["id"], "content": "sunny"}
    assert told[-2]["tool_calls"][0]["id"] == sent["id"]
