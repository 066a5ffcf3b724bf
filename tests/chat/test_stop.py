"""Stopping a generation: the HTTP route and the WebSocket frame cancel it, close the upstream
stream, and save the partial answer marked stopped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.polling import eventually
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from chat.helpers import (
    frames_of,
    frames_until,
    is_done,
    next_frame,
    scripted_settings,
    sse_events,
)

pytestmark = pytest.mark.storage  # turns are saved: SQLite and PostgreSQL

LONG = {"x_chunks": 400, "x_delay": 0.05}


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url)


async def start_live(api: Any, chat_id: str, **extra: Any) -> dict[str, Any]:
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "slow",
            "chat_id": chat_id,
            "session_id": "s",
            "messages": [{"role": "user", "content": "Count"}],
            **LONG,
            **extra,
        },
    )
    assert r.code == 200, r.body
    return r.json()


async def first_delta(ws: Any, message_id: str) -> None:
    await frames_until(
        ws, lambda f: f.get("message_id") == message_id and "delta" in (f.get("data") or {})
    )


async def assert_saved_stopped(api: Any, chat_id: str, message_id: str) -> str:
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    message = chat["history"]["messages"][message_id]
    assert message["done"] is True and message["stopped"] is True
    assert message["content"].startswith("tok0 ")
    assert len(message["content"].split()) < LONG["x_chunks"]
    assert "error" not in message
    return message["content"]


async def test_stop_route_cancels_a_live_generation(api, new_chat, ws_connect, scripted_openai):
    ws = await ws_connect()
    chat_id = await new_chat(model="slow")
    started = await start_live(api, chat_id)
    message_id = started["message_id"]
    await first_delta(ws, message_id)
    assert (await api("POST", f"tasks/chat/{chat_id}/stop", user="bob")).json() == {
        "status": False,
        "task_ids": [],
    }
    r = await api("POST", f"tasks/chat/{chat_id}/stop")
    assert r.code == 200 and r.json() == {"status": True, "task_ids": [started["task_id"]]}
    frames = await frames_until(ws, is_done(message_id))
    final = frames[-1]["data"]
    assert final["stopped"] is True and "error" not in final
    cancel = await next_frame(ws)
    assert cancel == {
        "type": "chat:tasks:cancel",
        "chat_id": chat_id,
        "data": {"message_id": message_id},
    }
    # The upstream stream was closed, not read to its end.
    await eventually(lambda: scripted_openai.closed_early == 1)
    assert scripted_openai.completed == 0
    content = await assert_saved_stopped(api, chat_id, message_id)
    assert content == final["content"]
    assert (await api("GET", f"tasks/chat/{chat_id}")).json()["task_ids"] == []
    # Nothing runs any more: a second stop finds nothing, and the chat takes a new turn.
    assert (await api("POST", f"tasks/chat/{chat_id}/stop")).json()["status"] is False
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "chat_id": chat_id,
            "messages": [{"role": "user", "content": "again"}],
        },
    )
    assert r.code == 200 and r.json()["choices"][0]["message"]["content"] == "".join(
        f"tok{i} " for i in range(8)
    )


async def test_stop_frame_on_the_socket_cancels_it(api, new_chat, ws_connect, scripted_openai):
    ws, other = await ws_connect(), await ws_connect()
    chat_id = await new_chat(model="slow")
    started = await start_live(api, chat_id)
    message_id = started["message_id"]
    await first_delta(ws, message_id)
    ws.write_message(json.dumps({"type": "chat:stop", "chat_id": chat_id}))
    frames = await frames_until(ws, lambda f: f["type"] == "chat:stop")
    assert frames[-1]["data"] == {"task_ids": [started["task_id"]]}
    frames = await frames_until(other, lambda f: f["type"] == "chat:tasks:cancel")
    final = [f for f in frames_of(frames, message_id) if f["data"].get("done")]
    assert final and final[0]["data"]["stopped"] is True
    await eventually(lambda: scripted_openai.closed_early == 1)
    await assert_saved_stopped(api, chat_id, message_id)


async def test_bob_cannot_stop_alices_generation(api, new_chat, ws_connect, scripted_openai):
    ws, bob = await ws_connect(), await ws_connect("bob")
    chat_id = await new_chat(model="slow")
    started = await start_live(api, chat_id, x_chunks=6, x_delay=0.02)
    bob.write_message(json.dumps({"type": "chat:stop", "chat_id": chat_id}))
    assert (await next_frame(bob))["data"] == {"task_ids": []}
    frames = await frames_until(ws, is_done(started["message_id"]))
    assert "stopped" not in frames[-1]["data"]
    assert frames[-1]["data"]["content"] == "".join(f"tok{i} " for i in range(6))


async def stream_request(
    jp_http_port: int, jp_base_url: str, body: dict[str, Any], on_chunk: Any
) -> bytes:
    received: list[bytes] = []

    def callback(chunk: bytes) -> None:
        received.append(chunk)
        on_chunk(chunk)

    request = HTTPRequest(
        f"http://localhost:{jp_http_port}{jp_base_url}oui/api/chat/completions",
        method="POST",
        body=json.dumps(body),
        headers={"Authorization": "token alice-token"},
        streaming_callback=callback,
        request_timeout=60,
    )
    response = await AsyncHTTPClient().fetch(request, raise_error=False)
    assert response.code == 200, response.code
    return b"".join(received)


async def test_stop_route_ends_an_http_stream(
    api, new_chat, jp_http_port, jp_base_url, scripted_openai
):
    import asyncio

    chat_id = await new_chat(model="slow")
    stops: list[Any] = []

    def on_chunk(chunk: bytes) -> None:
        if b"tok1 " in chunk and not stops:
            stops.append(asyncio.ensure_future(api("POST", f"tasks/chat/{chat_id}/stop")))

    body = await stream_request(
        jp_http_port,
        jp_base_url,
        {
            "model": "slow",
            "stream": True,
            "chat_id": chat_id,
            "messages": [{"role": "user", "content": "Count"}],
            **LONG,
        },
        on_chunk,
    )
    assert stops and (await stops[0]).json()["status"] is True
    events = sse_events(body)
    assert events[-1] == ("message", "[DONE]")
    assert not any(isinstance(data, dict) and "error" in data for _, data in events)
    await eventually(lambda: scripted_openai.closed_early == 1)
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = next(m for m in chat["history"]["messages"].values() if m["role"] == "assistant")
    assert (
        answer["stopped"] is True
        and answer["done"] is True
        and answer["content"].startswith("tok0 tok1 ")
    )


async def test_a_client_that_goes_away_stops_the_stream(
    api, new_chat, jp_http_port, jp_base_url, scripted_openai
):
    """The HTTP client disconnects: the upstream stream is closed and the partial answer saved."""
    import asyncio
    import socket

    chat_id = await new_chat(model="slow")
    body = json.dumps(
        {
            "model": "slow",
            "stream": True,
            "chat_id": chat_id,
            "messages": [{"role": "user", "content": "Count"}],
            **LONG,
        }
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port, family=socket.AF_INET)
    writer.write(
        f"POST {jp_base_url}oui/api/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: token alice-token\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    seen = b""
    while b"tok1 " not in seen:
        seen += await asyncio.wait_for(reader.read(4096), 30)
    writer.close()
    await eventually(lambda: scripted_openai.closed_early == 1)

    async def stopped_message() -> Any:
        chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
        return next(m for m in chat["history"]["messages"].values() if m["role"] == "assistant")

    for _ in range(200):
        answer = await stopped_message()
        if answer["done"]:
            break
        await asyncio.sleep(0.05)
    assert answer["done"] is True and answer["stopped"] is True
    assert answer["content"].startswith("tok0 tok1 ")
