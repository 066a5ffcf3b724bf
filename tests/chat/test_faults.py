"""Upstream faults (scripted server): refused, 4xx/5xx, hang, cut, stall, bad JSON.

Each gives the client a clear error (502/504 JSON before anything was sent, an SSE ``error``
event after), keeps the partial text in the chat, and leaves the server answering.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from chat.helpers import SECRET_KEY, frames_until, is_done, scripted_settings, sse_events, sse_text
from oui_jupyter.providers.local_llama import free_port

pytestmark = pytest.mark.storage  # turns are saved: SQLite and PostgreSQL

TOKENS = "".join(f"tok{i} " for i in range(8))


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused


@pytest.fixture
def oui_extra_config(scripted_openai: Any, closed_port_url: str) -> dict[str, Any]:
    settings = scripted_settings(
        scripted_openai.base_url, completion_timeout=1.0, models_fetch_timeout=1.0
    )
    settings["openai_api_base_urls"].append(closed_port_url)
    settings["openai_api_keys"].append("")
    # The refused connection's model is known from its configured model_ids.
    settings["openai_api_configs"] = {"1": {"model_ids": ["ghost"]}}
    return settings


def body(model: str, stream: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hi"}],
        **extra,
    }


async def assert_still_serving(api: Any) -> None:
    r = await api("POST", "chat/completions", body("fast", False))
    assert r.code == 200 and r.json()["choices"][0]["message"]["content"] == TOKENS
    r = await api("POST", "chat/completions", body("fast", True))
    assert r.code == 200 and sse_text(r.body) == TOKENS
    assert (await api("GET", "models")).code == 200


BEFORE_ANY_CHUNK = [
    ("ghost", 502, "upstream_unreachable", "Cannot reach the model server"),
    ("error500", 502, "upstream_500", "scripted failure 500"),
    ("error400", 502, "upstream_400", "scripted failure 400"),
    ("hang", 504, None, "did not answer in time"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    ("model", "status", "reason", "words"), BEFORE_ANY_CHUNK, ids=[c[0] for c in BEFORE_ANY_CHUNK]
)
async def test_failure_before_the_answer_is_a_json_error(api, stream, model, status, reason, words):
    r = await api("POST", "chat/completions", body(model, stream))
    assert r.code == status, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    error = r.json()
    assert words in error["message"] and error["reason"] == reason
    assert SECRET_KEY not in r.body.decode()
    await assert_still_serving(api)


@pytest.mark.parametrize(
    ("model", "status", "reason", "words"), BEFORE_ANY_CHUNK, ids=[c[0] for c in BEFORE_ANY_CHUNK]
)
async def test_failure_before_the_answer_in_a_chat_is_stored_on_the_message(
    api, new_chat, model, status, reason, words
):
    chat_id = await new_chat(model=model)
    r = await api("POST", "chat/completions", body(model, True, chat_id=chat_id))
    assert r.code == status, r.body
    assert words in r.json()["message"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    user, answer = chat["messages"]
    assert user["content"] == "Hi" and answer["role"] == "assistant"
    assert answer["done"] is True and answer["content"] == ""
    assert words in answer["error"]["content"]


MID_STREAM = [
    ("cut", "tok0 tok1 tok2 ", 502, "upstream_stream_cut"),
    ("stall", "tok0 ", 504, None),
    ("badjson", "", 502, "upstream_bad_chunk"),
]


@pytest.mark.parametrize(
    ("model", "partial", "status", "reason"), MID_STREAM, ids=[c[0] for c in MID_STREAM]
)
async def test_failure_mid_stream_is_an_sse_error_event(
    api, new_chat, model, partial, status, reason
):
    chat_id = await new_chat(model=model)
    for extra in ({}, {"chat_id": chat_id}):
        r = await api("POST", "chat/completions", body(model, True, **extra))
        assert r.code == 200, r.body
        events = sse_events(r.body)
        assert events[-1] == ("message", "[DONE]")
        errors = [data["error"] for _, data in events if isinstance(data, dict) and "error" in data]
        assert len(errors) == 1
        assert (
            errors[0]["code"] == status and errors[0]["reason"] == reason and errors[0]["message"]
        )
        assert sse_text(r.body) == partial
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = chat["messages"][-1]
    assert answer["content"] == partial and answer["done"] is True
    assert answer["error"]["content"] == errors[0]["message"]
    await assert_still_serving(api)


@pytest.mark.parametrize(
    ("model", "partial", "status", "reason"), MID_STREAM, ids=[c[0] for c in MID_STREAM]
)
async def test_failure_mid_answer_without_streaming_keeps_the_partial_text(
    api, new_chat, model, partial, status, reason
):
    chat_id = await new_chat(model=model)
    r = await api("POST", "chat/completions", body(model, False, chat_id=chat_id))
    assert r.code == status and r.json()["reason"] == reason
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = chat["messages"][-1]
    assert answer["content"] == partial and answer["error"]["content"] == r.json()["message"]
    # The message route answers the same way.
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "again", "model": model})
    assert r.code == status and r.json()["reason"] == reason
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "user", "assistant"]
    assert chat["messages"][-1]["content"] == partial and chat["messages"][-1]["error"]


async def test_the_openai_client_sees_a_cut_stream_as_an_error(oui_url):
    async with openai.AsyncOpenAI(base_url=oui_url, api_key="alice-token", max_retries=0) as oai:
        stream = await oai.chat.completions.create(
            model="cut", stream=True, messages=[{"role": "user", "content": "Hi"}]
        )
        text = ""
        with pytest.raises(openai.APIError) as info:
            async for chunk in stream:
                text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        assert text == "tok0 tok1 tok2 "
        assert "broke mid-answer" in str(info.value)
        with pytest.raises(openai.APIStatusError) as status:
            await oai.chat.completions.create(
                model="error500", messages=[{"role": "user", "content": "Hi"}]
            )
        assert status.value.status_code == 502


@pytest.mark.parametrize(
    ("model", "partial", "words"),
    [
        ("cut", "tok0 tok1 tok2 ", "broke mid-answer"),
        ("error500", "", "scripted failure 500"),
        ("ghost", "", "Cannot reach"),
        ("stall", "tok0 ", "did not answer in time"),
    ],
)
async def test_live_mode_sends_an_error_event_and_stores_the_error(
    api, new_chat, ws_connect, model, partial, words
):
    ws = await ws_connect()
    chat_id = await new_chat(model=model)
    r = await api("POST", "chat/completions", body(model, True, chat_id=chat_id, session_id="s"))
    assert r.code == 200, r.body
    message_id = r.json()["message_id"]
    frames = await frames_until(ws, is_done(message_id))
    final = frames[-1]["data"]
    assert final["content"] == partial and words in final["error"]["content"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    saved = chat["history"]["messages"][message_id]
    assert (
        saved["content"] == partial and saved["error"] == final["error"] and saved["done"] is True
    )
    ws.write_message(json.dumps({"type": "ping"}))
    assert (await frames_until(ws, lambda f: f["type"] == "pong"))[-1] == {"type": "pong"}
    await assert_still_serving(api)


async def test_a_bad_request_is_not_an_upstream_error(api, new_chat):
    assert (await api("POST", "chat/completions", {"model": "fast"})).code == 422
    assert (await api("POST", "chat/completions", {"model": "fast", "messages": []})).code == 422
    assert (await api("POST", "chat/completions", raw=b"{oops")).code == 400
    assert (await api("POST", "chat/completions", body("nope", False))).code == 404
    assert (
        await api("POST", "chat/completions", body("fast", False, chat_id="no-chat"))
    ).code == 404
    chat_id = await new_chat(model="fast")
    assert (
        await api("POST", "chat/completions", body("fast", False, chat_id=chat_id), user="bob")
    ).code == 404
    r = await api(
        "POST",
        "chat/completions",
        body("fast", False, chat_id=chat_id, regenerate=True, parent_id="x"),
    )
    assert r.code == 404
    # A parent that does not exist: the turn's rows are written while the upstream request is
    # in flight, and their error still reaches the client as a JSON 404, streamed or not.
    for stream in (True, False):
        r = await api(
            "POST", "chat/completions", body("fast", stream, chat_id=chat_id, parent_id="ghost")
        )
        assert r.code == 404 and "ghost" in r.json()["message"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    assert chat["history"]["messages"] == {}
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "hi", "parent_id": "ghost", "model": "fast"},
    )
    assert r.code == 404
