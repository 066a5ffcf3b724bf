"""Open WebUI's own send protocol: its frontend names the messages, the server keeps its ids.

The bodies below are what Open WebUI 0.12's ``Chat.svelte`` (``sendMessageSocket``) posts to
``chat/completions``: the first turn with ``parent_id: null`` and no ``chat_id`` (the server
makes the chat), the next naming the first answer as ``parent_id``; ``id`` is the new answer,
``user_message`` the new user message with its own ``id``; ``messages`` holds only the system
prompt (the server reads the branch). A scripted upstream answers.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from chat.helpers import frames_until, is_done, scripted_settings, sse_text

pytestmark = pytest.mark.storage  # turns are saved: SQLite and PostgreSQL

ANSWER = "".join(f"tok{i} " for i in range(8))
# Keys of Open WebUI's body that are its own: none may reach the upstream.
OWUI_ONLY = (
    "user_message",
    "message_ids",
    "model_item",
    "background_tasks",
    "tool_servers",
    "session_id",
    "chat_id",
    "parent_id",
    "id",
    "variables",
    "features",
    "params",
)


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url)


def owui_body(
    text: str,
    answer_id: str,
    user_id: str,
    parent: str | None,
    chat_id: str | None = None,
    first: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """One turn's body as Open WebUI's frontend builds it (single model, socket connected)."""
    body: dict[str, Any] = {
        "stream": True,
        "model": "fast",
        "messages": [{"role": "system", "content": "Be brief."}],
        "params": {"temperature": 0.25, "stop": None},
        "tool_servers": [],
        "features": {
            "voice": False,
            "image_generation": False,
            "code_interpreter": False,
            "web_search": False,
        },
        "variables": {"{{USER_NAME}}": "alice", "{{CURRENT_DATE}}": "2026-12-01"},
        "model_item": {
            "id": "fast",
            "name": "fast",
            "object": "model",
            "owned_by": "openai",
            "info": {"meta": {"capabilities": {"usage": False}}},
        },
        "session_id": "socket-io-sid-1",
        "id": answer_id,
        "parent_id": parent,
        "user_message": {
            "id": user_id,
            "parentId": parent,
            "childrenIds": [answer_id],
            "role": "user",
            "content": text,
            "models": ["fast"],
            "timestamp": int(time.time()),
        },
        "background_tasks": {
            "title_generation": True,
            "tags_generation": True,
            "follow_up_generation": True,
        }
        if first
        else {"follow_up_generation": True},
        **extra,
    }
    if chat_id is not None:
        body["chat_id"] = chat_id
    return body


def ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


async def turn(api: Any, ws: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    started = r.json()
    await frames_until(ws, is_done(body["id"]))
    return started


async def test_two_turns_keep_the_clients_ids_and_tree(api, ws_connect, scripted_openai):
    ws = await ws_connect()
    u1, a1 = ids()
    started = await turn(api, ws, owui_body("Hello", a1, u1, None, first=True))
    chat_id = started["chat_id"]
    assert started["message_id"] == a1 and started["user_message_id"] == u1
    assert started["status"] is True and started["task_ids"] == [started["task_id"]]

    u2, a2 = ids()
    second = await turn(api, ws, owui_body("And then?", a2, u2, a1, chat_id=chat_id))
    assert second["chat_id"] == chat_id and second["message_id"] == a2

    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    history = chat["history"]
    assert history["currentId"] == a2
    assert [m["id"] for m in chat["messages"]] == [u1, a1, u2, a2]
    messages = history["messages"]
    assert set(messages) == {u1, a1, u2, a2}
    assert messages[u1]["parentId"] is None and messages[u1]["childrenIds"] == [a1]
    assert messages[a1]["parentId"] == u1 and messages[a1]["childrenIds"] == [u2]
    assert messages[u2]["parentId"] == a1 and messages[a2]["parentId"] == u2
    assert messages[u2]["content"] == "And then?" and messages[u2]["models"] == ["fast"]
    assert messages[a1]["content"] == ANSWER and messages[a2]["done"] is True
    assert chat["models"] == ["fast"]

    # The second prompt is the system prompt, then the branch read from the database.
    sent = scripted_openai.requests[-1]
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", "Be brief."),
        ("user", "Hello"),
        ("assistant", ANSWER),
        ("user", "And then?"),
    ]
    assert sent["temperature"] == 0.25 and "stop" not in sent
    assert not [k for k in OWUI_ONLY if k in sent]


async def test_a_sse_turn_without_a_socket_continues_the_clients_tree(api, scripted_openai):
    u1, a1 = ids()
    first = owui_body("Hello", a1, u1, None, first=True)
    del first["session_id"]
    r = await api("POST", "chat/completions", first)
    assert r.code == 200 and sse_text(r.body) == ANSWER
    chat_id = next(c["id"] for c in (await api("GET", "v1/chats/")).json())
    u2, a2 = ids()
    second = owui_body("More", a2, u2, a1, chat_id=chat_id, stream=False)
    del second["session_id"]
    del second["messages"]  # no system prompt: Open WebUI leaves messages out
    r = await api("POST", "chat/completions", second)
    assert r.code == 200, r.body
    assert r.json()["message_id"] == a2 and r.json()["user_message_id"] == u2
    messages = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    assert messages[u2]["parentId"] == a1 and messages[a2]["content"] == ANSWER
    assert [m["role"] for m in scripted_openai.requests[-1]["messages"]] == [
        "user",
        "assistant",
        "user",
    ]


async def test_a_stored_user_message_is_answered_again(api, ws_connect):
    """Open WebUI's regenerate: the same user_message (its id is in the chat), a new answer id."""
    ws = await ws_connect()
    u1, a1 = ids()
    chat_id = (await turn(api, ws, owui_body("Hello", a1, u1, None, first=True)))["chat_id"]
    a1b = str(uuid.uuid4())
    again = await turn(api, ws, owui_body("Hello", a1b, u1, None, chat_id=chat_id))
    assert again["user_message_id"] == u1 and again["message_id"] == a1b
    history = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]
    assert history["messages"][u1]["childrenIds"] == [a1, a1b] and history["currentId"] == a1b
    assert len(history["messages"]) == 3


async def test_a_placeholder_made_by_chats_new_is_filled_in(api, scripted_openai):
    """The older frontend saves the turn first (user message + empty answer), then completes it."""
    u1, a1 = ids()
    placeholder = {
        "id": a1,
        "parentId": u1,
        "childrenIds": [],
        "role": "assistant",
        "content": "",
        "done": False,
        "model": "fast",
        "timestamp": int(time.time()),
    }
    user = {
        "id": u1,
        "parentId": None,
        "childrenIds": [a1],
        "role": "user",
        "content": "Hi",
        "timestamp": int(time.time()),
    }
    chat = {
        "title": "New Chat",
        "models": ["fast"],
        "history": {"messages": {u1: user, a1: placeholder}, "currentId": a1},
    }
    chat_id = (await api("POST", "v1/chats/new", {"chat": chat})).json()["id"]
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "stream": False,
            "chat_id": chat_id,
            "id": a1,
            "messages": [{"role": "user", "content": "Hi"}],
            "background_tasks": {},
        },
    )
    assert r.code == 200, r.body
    assert r.json()["message_id"] == a1 and r.json()["user_message_id"] == u1
    messages = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    assert set(messages) == {u1, a1}
    assert messages[a1]["content"] == ANSWER and messages[a1]["done"] is True
    # Filled in once: a second request naming it finds a finished answer.
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "chat_id": chat_id,
            "id": a1,
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert r.code == 409


async def test_message_ids_name_the_answer(api, ws_connect):
    ws = await ws_connect()
    u1, a1 = ids()
    body = owui_body(
        "Hello",
        "unused-id",
        u1,
        None,
        first=True,
        message_ids=[{"model_id": "fast", "message_id": a1}],
    )
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    assert r.json()["message_id"] == a1
    await frames_until(ws, is_done(a1))
    u2, a2 = ids()
    body = owui_body(
        "Next", "unused-id", u2, a1, chat_id=r.json()["chat_id"], message_ids={"fast": a2}
    )
    r = await api("POST", "chat/completions", body)
    assert r.code == 200 and r.json()["message_id"] == a2
    await frames_until(ws, is_done(a2))


async def chat_with_one_turn(api: Any, ws: Any) -> tuple[str, str, str]:
    u1, a1 = ids()
    started = await turn(api, ws, owui_body("Hello", a1, u1, None, first=True))
    return started["chat_id"], u1, a1


async def assert_unchanged(api: Any, chat_id: str, expected: set[str]) -> None:
    history = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]
    assert set(history["messages"]) == expected


async def test_ids_in_use_are_409_and_write_nothing(api, ws_connect):
    ws = await ws_connect()
    chat_id, u1, a1 = await chat_with_one_turn(api, ws)
    u2, a2 = ids()
    cases = [
        owui_body("x", a1, u2, a1, chat_id=chat_id),  # the answer id is a finished answer
        owui_body("x", a2, a1, a1, chat_id=chat_id),  # the user id is an assistant message
        owui_body("x", u1, u2, a1, chat_id=chat_id),  # the answer id is a user message
        owui_body("x", u2, u2, a1, chat_id=chat_id),  # one id for both
    ]
    for body in cases:
        r = await api("POST", "chat/completions", body)
        assert r.code == 409, (body["id"], body["user_message"]["id"], r.body)
        assert r.json()["message"]
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "x", "model": "fast", "user_message_id": u1},
    )
    assert r.code == 409
    r = await api(
        "POST", f"v1/chats/{chat_id}/message", {"content": "x", "model": "fast", "id": a1}
    )
    assert r.code == 409
    await assert_unchanged(api, chat_id, {u1, a1})
    # Another chat may use the same ids.
    other = await turn(api, ws, owui_body("Hello", a1, u1, None, first=True))
    assert other["chat_id"] != chat_id


@pytest.mark.parametrize("where", ["id", "user_message.id", "message_ids", "message_ids map"])
@pytest.mark.parametrize("bad", ["has space", "x" * 65, "", "semi;colon"])
async def test_malformed_ids_are_422(api, ws_connect, where, bad):
    u1, a1 = ids()
    body = owui_body("Hello", a1, u1, None, first=True)
    if where == "id":
        body["id"] = bad
    elif where == "user_message.id":
        body["user_message"]["id"] = bad
    elif where == "message_ids":
        body["message_ids"] = [{"model_id": "fast", "message_id": bad}]
    else:
        body["message_ids"] = {"fast": bad}
    r = await api("POST", "chat/completions", body)
    assert r.code == 422, r.body
    assert (await api("GET", "v1/chats/")).json() == []  # no chat was made


async def test_a_missing_parent_is_404_and_a_stranger_chat_404(api, ws_connect):
    ws = await ws_connect()
    chat_id, u1, a1 = await chat_with_one_turn(api, ws)
    u2, a2 = ids()
    r = await api(
        "POST", "chat/completions", owui_body("x", a2, u2, "no-such-message", chat_id=chat_id)
    )
    assert r.code == 404
    r = await api(
        "POST", "chat/completions", owui_body("x", a2, u2, a1, chat_id=chat_id), user="bob"
    )
    assert r.code == 404
    await assert_unchanged(api, chat_id, {u1, a1})


async def test_chat_message_route_takes_ids(api, new_chat):
    chat_id = await new_chat(model="fast")
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "Hi", "id": "answer-1", "user_message_id": "user-1"},
    )
    assert r.code == 200, r.body
    assert r.json()["id"] == "answer-1" and r.json()["parentId"] == "user-1"
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "On", "parent_id": "answer-1", "id": "answer-2"},
    )
    assert r.code == 200 and r.json()["id"] == "answer-2"
    messages = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    user2 = messages["answer-2"]["parentId"]
    assert messages[user2]["parentId"] == "answer-1" and messages["user-1"]["content"] == "Hi"
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "x", "id": "bad id"})
    assert r.code == 422


async def test_several_models_answer_the_same_user_message(api, ws_connect, scripted_openai):
    ws = await ws_connect()
    u1, a1 = ids()
    b1 = str(uuid.uuid4())
    entries = [
        {"model_id": "fast", "message_id": a1, "modelIdx": 0},
        {"model_id": "slow", "message_id": b1, "modelIdx": 1},
    ]
    body = owui_body("Hello", a1, u1, None, first=True, message_ids=entries)
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    started = r.json()
    assert started["message_id"] == a1 and len(started["task_ids"]) == 2
    await frames_until(ws, is_done(a1))
    history = (await api("GET", f"v1/chats/{started['chat_id']}")).json()["chat"]["history"]
    if not history["messages"][b1]["done"]:
        await frames_until(ws, is_done(b1))
        history = (await api("GET", f"v1/chats/{started['chat_id']}")).json()["chat"]["history"]
    messages = history["messages"]
    assert set(messages) == {u1, a1, b1} and messages[u1]["childrenIds"] == [a1, b1]
    assert messages[a1]["model"] == "fast" and messages[b1]["model"] == "slow"
    assert messages[a1]["content"] == ANSWER and messages[b1]["content"] == ANSWER
    assert sorted(req["model"] for req in scripted_openai.requests) == ["fast", "slow"]
    # A model nobody serves: refused before anything is written.
    u2, a2 = ids()
    entries = [
        {"model_id": "fast", "message_id": a2},
        {"model_id": "no-such-model", "message_id": str(uuid.uuid4())},
    ]
    r = await api(
        "POST",
        "chat/completions",
        owui_body("x", a2, u2, a1, chat_id=started["chat_id"], message_ids=entries),
    )
    assert r.code == 404, r.body
    assert set(
        (await api("GET", f"v1/chats/{started['chat_id']}")).json()["chat"]["history"]["messages"]
    ) == {u1, a1, b1}
