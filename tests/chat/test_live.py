"""Live mode: ``session_id`` answers at once and the answer streams over ``oui/api/events``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support.polling import eventually

from chat.helpers import (
    frames_of,
    frames_until,
    is_done,
    next_frame,
    scripted_settings,
    services_of,
    text_from_deltas,
)

pytestmark = pytest.mark.storage  # turns are saved: SQLite and PostgreSQL


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url)


async def live_turn(
    api: Any, chat_id: str, model: str = "slow", user: str = "alice", **extra: Any
) -> dict[str, Any]:
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": model,
            "stream": True,
            "chat_id": chat_id,
            "session_id": "tab-1",
            "messages": [{"role": "user", "content": "Hello there"}],
            **extra,
        },
        user=user,
    )
    assert r.code == 200, r.body
    return r.json()


#: frames every socket of the server gets, whoever it belongs to
SERVER_WIDE = frozenset({"index:progress", "models:updated"})


async def assert_nothing_pending(ws: Any) -> None:
    """Frames arrive in order: if the answer to a ping is the next frame but for server-wide
    ones, nothing of anyone's chats was queued."""
    ws.write_message(json.dumps({"type": "ping"}))
    frame = await next_frame(ws)
    while frame.get("type") in SERVER_WIDE:
        frame = await next_frame(ws)
    assert frame == {"type": "pong"}


async def test_two_sockets_of_alice_get_the_deltas_and_bob_gets_nothing(
    api, new_chat, ws_connect, scripted_openai
):
    alice1, alice2, bob = (
        await ws_connect("alice"),
        await ws_connect("alice"),
        await ws_connect("bob"),
    )
    chat_id = await new_chat(model="slow")
    started = await live_turn(api, chat_id, x_chunks=12, x_delay=0.05)
    assert set(started) >= {"task_id", "chat_id", "message_id"}
    assert started["chat_id"] == chat_id and started["task_id"]
    assert scripted_openai.completed == 0  # answered before the upstream finished
    message_id = started["message_id"]
    expected = "".join(f"tok{i} " for i in range(12))
    for ws in (alice1, alice2):
        frames = await frames_until(ws, is_done(message_id))
        mine = frames_of(frames, message_id)
        assert mine[0]["chat_id"] == chat_id and mine[0]["data"]["done"] is False  # the start frame
        deltas = [f for f in mine if "delta" in f["data"]]
        assert len(deltas) >= 2  # streamed, not one block at the end
        assert text_from_deltas(mine) == expected
        final = mine[-1]["data"]
        assert final["done"] is True and final["content"] == expected and final["model"] == "slow"
        assert final["usage"]["completion_tokens"] == 12
        assert "error" not in final and "stopped" not in final
    await assert_nothing_pending(bob)
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    saved = chat["history"]["messages"][message_id]
    assert saved["content"] == expected and saved["done"] is True
    assert chat["history"]["currentId"] == message_id
    assert (
        saved["parentId"] == started["user_message_id"]
        and saved["usage"]["completion_tokens"] == 12
    )
    assert scripted_openai.requests[-1]["stream_options"] == {"include_usage": True}


async def test_reading_the_chat_mid_stream_returns_the_partial_answer(api, new_chat, ws_connect):
    ws = await ws_connect()
    chat_id = await new_chat(model="slow")
    started = await live_turn(api, chat_id, x_chunks=30, x_delay=0.1)
    message_id = started["message_id"]
    await frames_until(
        ws, lambda f: "delta" in (f.get("data") or {}) and f.get("message_id") == message_id
    )
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    partial = chat["history"]["messages"][message_id]
    assert partial["done"] is False
    assert partial["content"].startswith("tok0 ")
    full = "".join(f"tok{i} " for i in range(30))
    assert full.startswith(partial["content"]) and partial["content"] != full
    # The running task is listed while it runs, and the answer completes afterwards.
    tasks = (await api("GET", f"tasks/chat/{chat_id}")).json()
    assert tasks["task_ids"] == [started["task_id"]]
    frames = await frames_until(ws, is_done(message_id))
    assert frames[-1]["data"]["content"] == full
    assert (await api("GET", f"tasks/chat/{chat_id}")).json()["task_ids"] == []
    assert (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"][
        message_id
    ]["content"] == full


async def test_closing_the_socket_does_not_stop_the_generation(
    api, new_chat, ws_connect, scripted_openai
):
    ws = await ws_connect()
    chat_id = await new_chat(model="slow")
    started = await live_turn(api, chat_id, x_chunks=10, x_delay=0.05)
    await next_frame(ws)
    ws.close()
    full = "".join(f"tok{i} " for i in range(10))

    async def saved() -> dict[str, Any]:
        return (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"][
            started["message_id"]
        ]

    await eventually(lambda: scripted_openai.completed == 1)
    message = await eventually(saved, until=lambda m: m["done"])
    assert message["content"] == full and "stopped" not in message


async def test_live_mode_on_the_message_route(api, new_chat, ws_connect):
    ws = await ws_connect()
    chat_id = await new_chat(model="fast")
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "Hi", "session_id": "tab-2"})
    assert r.code == 200, r.body
    started = r.json()
    frames = await frames_until(ws, is_done(started["message_id"]))
    assert frames[-1]["data"]["content"] == "".join(f"tok{i} " for i in range(8))
    assert frames[-1]["chat_id"] == chat_id


async def test_live_mode_needs_a_chat(api):
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "session_id": "tab-1",
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert r.code == 422 and "chat_id" in r.json()["message"]


async def test_malformed_frames_get_an_error_frame_and_the_socket_stays_open(ws_connect):
    ws = await ws_connect()
    for bad in (
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": 3}',
        '{"type": "nope"}',
        '{"type": "chat:stop"}',
        '{"type": "chat:stop", "chat_id": 5}',
    ):
        ws.write_message(bad)
        frame = await next_frame(ws)
        assert frame["type"] == "error", (bad, frame)
        assert frame["data"]["message"]
    ws.write_message(b"\xff\xfe binary", binary=True)
    frame = await next_frame(ws)
    assert frame["type"] == "error"
    ws.write_message(json.dumps({"type": "ping"}))
    assert await next_frame(ws) == {"type": "pong"}
    # A stop for a chat with nothing running is answered, not an error.
    ws.write_message(json.dumps({"type": "chat:stop", "chat_id": "no-such-chat"}))
    frame = await next_frame(ws)
    assert frame == {"type": "chat:stop", "chat_id": "no-such-chat", "data": {"task_ids": []}}


async def test_frames_of_every_length_queued_together_arrive_whole_and_in_order(
    ws_connect, jp_serverapp
):
    """Frames queued in one turn of the loop leave in one write, each with its own header:
    the 7-bit, 16-bit and 64-bit payload lengths of RFC 6455 all decode on a real client."""
    first, second = await ws_connect(), await ws_connect()
    second.close()
    hub = services_of(jp_serverapp).events
    sizes = [0, 125, 126, 65535, 65536, 200_000]
    for size in sizes:  # one loop turn: all of them go to the socket's outbox
        hub.broadcast_all({"type": "test", "data": "x" * size})
    for size in sizes:
        frame = await next_frame(first)
        assert frame == {"type": "test", "data": "x" * size}
    await assert_nothing_pending(first)


async def test_a_socket_that_stops_reading_is_dropped_not_buffered(
    ws_connect, jp_serverapp, jp_http_port, jp_base_url
):
    """A client that stops reading (a suspended laptop) cannot make the server keep every frame
    meant for it: past ``MAX_UNSENT_BYTES`` waiting, its socket is closed. Other sockets of
    the same user go on receiving."""
    import socket

    from oui_jupyter.handlers.events import MAX_UNSENT_BYTES

    healthy = await ws_connect()
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", jp_http_port))
    reader, writer = await asyncio.open_connection(sock=raw, limit=4096)
    writer.write(
        f"GET {jp_base_url}oui/api/events HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: token alice-token\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    # ... and from here on it reads nothing, while 2.5x the limit is sent to every socket.
    hub = services_of(jp_serverapp).events
    frames = int(2.5 * MAX_UNSENT_BYTES) // (1 << 20)
    for _ in range(frames):
        hub.broadcast_all({"type": "test", "data": "x" * (1 << 20)})
        assert (await next_frame(healthy))["type"] == "test"  # the reading socket keeps up
    received = 0
    while chunk := await asyncio.wait_for(reader.read(1 << 20), 30):  # until the server closes it
        received += len(chunk)
    assert received < frames * (1 << 20)  # dropped, not delivered late
    writer.close()
    await assert_nothing_pending(healthy)  # still open and served


async def test_the_socket_needs_authentication(jp_ws_fetch):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("oui", "api", "events", headers={"Authorization": "token wrong"})
    assert info.value.code in (401, 403)


REVERSE = [{"role": "user", "content": "How do I reverse a string in Python?"}]


class TestTitleAndTags:
    @pytest.fixture
    def oui_extra_config(self, scripted_openai: Any) -> dict[str, Any]:
        scripted_openai.replies.update(
            {
                "short title": "Title: Reversing a Python string.",
                "topic tags": "python, Strings, hello, this is far too long a tag",
            }
        )
        return scripted_settings(
            scripted_openai.base_url, enable_title_generation=True, enable_tags_generation=True
        )

    async def test_title_and_tags_follow_the_first_turn(
        self, api, new_chat, ws_connect, scripted_openai
    ):
        ws = await ws_connect()
        chat_id = await new_chat(model="fast")
        started = await live_turn(api, chat_id, model="fast", messages=REVERSE)
        frames = await frames_until(ws, lambda f: f.get("type") == "chat:tags")
        done = [i for i, f in enumerate(frames) if is_done(started["message_id"])(f)]
        titles = [i for i, f in enumerate(frames) if f["type"] == "chat:title"]
        assert done and titles and done[0] < titles[0]  # the answer is not delayed by the title
        assert frames[titles[0]] == {
            "type": "chat:title",
            "chat_id": chat_id,
            "data": "Reversing a Python string",
        }
        assert frames[-1]["chat_id"] == chat_id and frames[-1]["data"] == ["python", "strings"]
        chat = (await api("GET", f"v1/chats/{chat_id}")).json()
        assert chat["title"] == "Reversing a Python string"
        tags = (await api("GET", f"v1/chats/{chat_id}/tags")).json()
        assert sorted(t["name"] for t in tags) == ["python", "strings"]
        # The title and tags requests went to the chat's model (the default task model).
        asked = [r for r in scripted_openai.requests if "title" in r["messages"][0]["content"]]
        assert asked and asked[0]["model"] == "fast"
        # A second turn does not retitle the chat.
        count = len(scripted_openai.requests)
        second = await live_turn(api, chat_id, model="fast", parent_id=started["message_id"])
        await frames_until(ws, is_done(second["message_id"]))
        await assert_nothing_pending(ws)
        assert len(scripted_openai.requests) == count + 1

    async def test_the_sidebars_placeholder_is_replaced_and_a_users_title_kept(
        self, api, new_chat, ws_connect
    ):
        ws = await ws_connect()
        for title, expected in [
            ("How do I reverse a string…", "Reversing a Python string"),
            ("Strings", "Strings"),
        ]:
            chat_id = await new_chat(model="fast", title=title)
            started = await live_turn(api, chat_id, model="fast", messages=REVERSE)
            await frames_until(
                ws, lambda f, c=chat_id: f.get("type") == "chat:tags" and f.get("chat_id") == c
            )
            assert (await api("GET", f"v1/chats/{chat_id}")).json()["title"] == expected
            assert started["message_id"]

    async def test_a_failing_title_model_never_becomes_a_chat_error(
        self, api, new_chat, ws_connect, scripted_openai, jp_serverapp
    ):
        ws = await ws_connect()
        chat_id = await new_chat(model="fast")
        services_of(jp_serverapp).completions.titles.task_model = "error500"
        started = await live_turn(api, chat_id, model="fast")
        frames = await frames_until(ws, is_done(started["message_id"]))
        assert "error" not in frames[-1]["data"]
        # The chat is titled with its prompt; "Hello there" has no topic: no tags are asked.
        frames = await frames_until(ws, lambda f: f.get("type") == "chat:title")
        assert frames[-1] == {"type": "chat:title", "chat_id": chat_id, "data": "Hello there"}
        await assert_nothing_pending(ws)  # no tags, no error frame
        assert [r["model"] for r in scripted_openai.requests].count("error500") == 1
        chat = (await api("GET", f"v1/chats/{chat_id}")).json()
        assert chat["title"] == "Hello there"
        assert "error" not in chat["chat"]["history"]["messages"][started["message_id"]]
