"""End to end against a real llama.cpp server running SmolLM2 (protocol and structure, not words)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from chat.helpers import llama_settings, sse_events, sse_text

pytestmark = pytest.mark.llm

SHORT = {"max_tokens": 12, "temperature": 0.0}


@pytest.fixture
def oui_extra_config(llama_server: str) -> dict[str, Any]:
    return llama_settings(llama_server)


def client(oui_url: str, token: str = "alice-token") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=oui_url, api_key=token, max_retries=0)


async def test_model_list_has_the_llama_model(api):
    r = await api("GET", "models")
    assert r.code == 200, r.body
    models = {m["id"]: m for m in r.json()["data"]}
    assert models["smollm2"]["available"] is True
    assert models["smollm2"]["connection"] == "0"


async def test_openai_client_streams_through_oui_with_the_jupyter_token(oui_url):
    async with client(oui_url) as oai:
        listed = [m.id async for m in oai.models.list()]
        assert "smollm2" in listed
        stream = await oai.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "Say hello."}],
            stream=True,
            **SHORT,
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(chunks) >= 2 and text.strip()
        assert any(c.choices and c.choices[0].finish_reason for c in chunks)
        answer = await oai.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Say hello."}], **SHORT
        )
        assert answer.object == "chat.completion"
        assert answer.choices[0].message.role == "assistant" and answer.choices[0].message.content
        assert answer.usage is not None and answer.usage.completion_tokens > 0
    async with client(oui_url, token="wrong-token") as oai:
        with pytest.raises(openai.APIStatusError) as info:
            await oai.models.list()
        assert info.value.status_code in (401, 403)


async def test_persisted_turns_regenerate_edit_continue(api, new_chat):
    chat_id = await new_chat()
    # First turn, streamed and saved.
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "stream": True,
            "chat_id": chat_id,
            "parent_id": None,
            "messages": [{"role": "user", "content": "Name a colour."}],
            **SHORT,
        },
    )
    assert r.code == 200, r.body
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(r.body)
    assert events[-1] == ("message", "[DONE]")
    streamed = sse_text(r.body)
    assert streamed.strip()
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    messages = chat["history"]["messages"]
    assert len(messages) == 2
    user = next(m for m in messages.values() if m["role"] == "user")
    answer = next(m for m in messages.values() if m["role"] == "assistant")
    assert user["content"] == "Name a colour." and user["parentId"] is None
    assert answer["parentId"] == user["id"] and user["childrenIds"] == [answer["id"]]
    assert answer["content"] == streamed and answer["done"] is True and answer["model"] == "smollm2"
    # llama-cpp-python reports no usage in streams (even with stream_options.include_usage).
    assert chat["history"]["currentId"] == answer["id"]
    assert [m["id"] for m in chat["messages"]] == [user["id"], answer["id"]]

    # Regenerate: a new assistant sibling under the same user message (not streamed).
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "chat_id": chat_id,
            "parent_id": user["id"],
            "regenerate": True,
            "messages": [{"role": "user", "content": "Name a colour."}],
            **SHORT,
        },
    )
    assert r.code == 200, r.body
    completion = r.json()
    assert (
        completion["object"] == "chat.completion" and completion["choices"][0]["message"]["content"]
    )
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    messages = chat["history"]["messages"]
    assert len(messages[user["id"]]["childrenIds"]) == 2
    regenerated = messages[completion["message_id"]]
    assert regenerated["parentId"] == user["id"] and regenerated["role"] == "assistant"
    assert chat["history"]["currentId"] == regenerated["id"]

    # Edit: a new user sibling (same parent: the root), answered.
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "chat_id": chat_id,
            "parent_id": None,
            "messages": [{"role": "user", "content": "Name a fruit."}],
            **SHORT,
        },
    )
    assert r.code == 200, r.body
    edit = r.json()
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    messages = chat["history"]["messages"]
    roots = [m for m in messages.values() if m["parentId"] is None]
    assert {m["content"] for m in roots} == {"Name a colour.", "Name a fruit."}
    assert messages[edit["message_id"]]["parentId"] == edit["user_message_id"]
    assert len(messages) == 5

    # Continue: the same assistant message grows.
    before = messages[edit["message_id"]]["content"]
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "chat_id": chat_id,
            "parent_id": edit["message_id"],
            "continue": True,
            "messages": [
                {"role": "user", "content": "Name a fruit."},
                {"role": "assistant", "content": before},
            ],
            "max_tokens": 6,
        },
    )
    assert r.code == 200, r.body
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    after = chat["history"]["messages"][edit["message_id"]]
    assert after["content"].startswith(before) and len(chat["history"]["messages"]) == 5
    assert after["done"] is True


async def test_message_route_runs_the_whole_turn(api, new_chat):
    chat_id = await new_chat()
    r = await api(
        "POST", f"v1/chats/{chat_id}/message", {"content": "Hi! Who are you?", "params": SHORT}
    )
    assert r.code == 200, r.body
    first = r.json()
    assert first["role"] == "assistant" and first["content"] and first["done"] is True
    assert first["model"] == "smollm2" and first["chat_id"] == chat_id
    # Second turn streamed: deltas first, then the message event, then [DONE].
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "And what can you do?", "stream": True, "params": SHORT},
    )
    assert r.code == 200, r.body
    events = sse_events(r.body)
    names = [name for name, _ in events]
    assert names[-2:] == ["message", "message"] and events[-1][1] == "[DONE]"
    final = next(
        data
        for name, data in events
        if name == "message" and isinstance(data, dict) and "role" in data
    )
    assert final["content"] == sse_text(r.body) and final["content"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    branch = chat["messages"]
    assert [m["role"] for m in branch] == ["user", "assistant", "user", "assistant"]
    assert branch[1]["id"] == first["id"] and branch[3]["id"] == final["id"]
    assert branch[2]["parentId"] == first["id"]
    # Errors are JSON, never 500.
    assert (await api("POST", f"v1/chats/{chat_id}/message", {"content": ""})).code == 422
    assert (await api("POST", f"v1/chats/{chat_id}/message", raw=b"{nope")).code == 400
    assert (await api("POST", "v1/chats/nochat/message", {"content": "x"})).code == 404
    assert (
        await api("POST", f"v1/chats/{chat_id}/message", {"content": "x"}, user="bob")
    ).code == 404
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "x", "model": "no-such-model"})
    assert r.code == 404 and "no-such-model" in r.json()["message"]
