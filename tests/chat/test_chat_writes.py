"""Writes to a stored chat: Open WebUI's whole-chat save writes only what changed, its
per-message route writes one row, and trees of any depth or with cycles are a 200 or a 422."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from chat.helpers import frames_until, is_done, scripted_settings, services_of
from oui_jupyter.store.orm import ChatMessage

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url)


def chain(n: int, backwards: bool = False, prefix: str = "m") -> dict[str, Any]:
    """history.messages of a linear chat of ``n`` messages; ``backwards``: newest first in time."""
    messages: dict[str, Any] = {}
    parent = None
    for i in range(n):
        mid = f"{prefix}{i}"
        stamp = 1_700_000_000 + (n - i if backwards else i)
        messages[mid] = {
            "id": mid,
            "parentId": parent,
            "childrenIds": [],
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i}",
            "timestamp": stamp,
        }
        if parent:
            messages[parent]["childrenIds"].append(mid)
        parent = mid
    return messages


async def create(api: Any, messages: dict[str, Any], current: str | None) -> str:
    r = await api(
        "POST",
        "v1/chats/new",
        {
            "chat": {
                "title": "T",
                "models": ["fast"],
                "history": {"messages": messages, "currentId": current},
            }
        },
    )
    assert r.code == 200, r.body
    return r.json()["id"]


def stored_rows(jp_serverapp: Any, chat_id: str) -> dict[str, tuple[Any, ...]]:
    """``{id: (seq, updated_at, content, extra)}`` straight from the database."""
    db = services_of(jp_serverapp).db
    with db.reader() as session:
        rows = session.execute(
            select(
                ChatMessage.id,
                ChatMessage.seq,
                ChatMessage.updated_at,
                ChatMessage.content,
                ChatMessage.extra,
            ).where(ChatMessage.chat_id == chat_id)
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


async def test_whole_chat_save_writes_only_what_changed(api, jp_serverapp):
    chat_id = await create(api, chain(40), "m39")
    before = stored_rows(jp_serverapp, chat_id)
    time.sleep(0.02)
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    history = chat["history"]
    history["messages"]["m39"]["childrenIds"].append("new1")
    history["messages"]["new1"] = {
        "id": "new1",
        "parentId": "m39",
        "childrenIds": [],
        "role": "user",
        "content": "one more",
        "timestamp": int(time.time()),
        "models": ["fast"],
    }
    history["messages"]["m7"]["content"] = "edited"
    history["messages"]["m9"]["rating"] = 1  # an extra key changes that message only
    history["currentId"] = "new1"
    saved = {
        "models": ["fast"],
        "params": {},
        "history": history,
        "files": [],
        "messages": list(history["messages"].values()),
    }
    r = await api("POST", f"v1/chats/{chat_id}", {"chat": saved})
    assert r.code == 200, r.body
    after = stored_rows(jp_serverapp, chat_id)
    assert set(after) == set(before) | {"new1"}
    untouched = set(before) - {"m7", "m9"}
    assert all(after[mid] == before[mid] for mid in untouched)
    assert (
        after["m7"][2] == "edited"
        and after["m7"][1] > before["m7"][1]
        and after["m7"][0] == before["m7"][0]
    )
    assert after["m9"][3] == {"rating": 1} and after["m9"][1] > before["m9"][1]
    assert after["new1"][0] == max(v[0] for v in before.values()) + 1
    # The answer is the chat as a fresh read gives it.
    got = (await api("GET", f"v1/chats/{chat_id}")).json()
    answer = r.json()
    assert answer["chat"]["history"] == got["chat"]["history"]
    assert answer["chat"]["messages"] == got["chat"]["messages"]
    assert got["chat"]["history"]["currentId"] == "new1"
    assert got["chat"]["history"]["messages"]["m9"]["rating"] == 1

    # Saving the same chat again writes no message row.
    again = stored_rows(jp_serverapp, chat_id)
    r = await api(
        "POST", f"v1/chats/{chat_id}", {"chat": saved}, headers={"Prefer": "return=minimal"}
    )
    assert r.code == 200 and "history" not in r.json()["chat"]
    assert stored_rows(jp_serverapp, chat_id) == again


async def test_a_save_naming_few_messages_in_a_long_chat_keeps_the_rest(api, jp_serverapp):
    chat_id = await create(api, chain(300), "m299")
    before = stored_rows(jp_serverapp, chat_id)
    part = {
        "m5": {
            "id": "m5",
            "parentId": "m4",
            "role": "user",
            "content": "changed",
            "timestamp": 1_700_000_005,
        },
        "x1": {"id": "x1", "parentId": "m299", "role": "user", "content": "added"},
    }
    r = await api(
        "POST",
        f"v1/chats/{chat_id}",
        {"chat": {"history": {"messages": part, "currentId": "x1"}}},
        headers={"Prefer": "return=minimal"},
    )
    assert r.code == 200, r.body
    after = stored_rows(jp_serverapp, chat_id)
    assert len(after) == 301 and after["m5"][2] == "changed" and after["x1"][2] == "added"
    assert all(after[m] == before[m] for m in before if m != "m5")
    history = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]
    assert history["currentId"] == "x1" and history["messages"]["x1"]["parentId"] == "m299"


async def test_per_message_route_updates_one_row_and_tells_the_sockets(
    api, jp_serverapp, ws_connect
):
    ws, bobs = await ws_connect(), await ws_connect("bob")
    chat_id = await create(api, chain(6), "m5")
    before = stored_rows(jp_serverapp, chat_id)
    time.sleep(0.02)
    r = await api("POST", f"v1/chats/{chat_id}/messages/m3", {"content": "rewritten"})
    assert r.code == 200, r.body
    body = r.json()
    assert (
        body["id"] == chat_id
        and body["chat"]["history"]["messages"]["m3"]["content"] == "rewritten"
    )
    after = stored_rows(jp_serverapp, chat_id)
    assert after["m3"][2] == "rewritten" and after["m3"][1] > before["m3"][1]
    assert all(after[m] == before[m] for m in before if m != "m3")
    frames = await frames_until(ws, lambda f: f.get("type") == "chat:message")
    assert frames[-1]["chat_id"] == chat_id and frames[-1]["message_id"] == "m3"
    assert frames[-1]["data"] == {"chat_id": chat_id, "message_id": "m3", "content": "rewritten"}

    r = await api(
        "POST",
        f"v1/chats/{chat_id}/messages/m4",
        {"content": "short"},
        headers={"Prefer": "return=minimal"},
    )
    assert r.code == 200 and "history" not in r.json()["chat"]
    assert (await api("POST", f"v1/chats/{chat_id}/messages/nope", {"content": "x"})).code == 404
    assert (
        await api("POST", f"v1/chats/{chat_id}/messages/m3", {"content": "x"}, user="bob")
    ).code == 404
    assert (await api("POST", f"v1/chats/{chat_id}/messages/m3", {})).code == 422
    assert (await api("POST", f"v1/chats/{chat_id}/messages/m3", {"content": 5})).code == 422
    final = stored_rows(jp_serverapp, chat_id)
    assert final["m3"][2] == "rewritten" and final["m4"][2] == "short"
    bobs.write_message('{"type": "ping"}')
    heard = await frames_until(bobs, lambda f: f.get("type") == "pong")
    assert [f["type"] for f in heard] == ["pong"]  # bob heard nothing of alice's chat


async def test_per_message_route_refuses_an_answer_being_written(api, ws_connect):
    ws = await ws_connect()
    chat_id = await create(api, chain(1), "m0")
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "slow",
            "stream": True,
            "chat_id": chat_id,
            "session_id": "tab",
            "x_chunks": 20,
            "x_delay": 0.05,
            "messages": [{"role": "user", "content": "go"}],
        },
    )
    answer = r.json()["message_id"]
    await frames_until(
        ws, lambda f: "delta" in (f.get("data") or {}) and f.get("message_id") == answer
    )
    r = await api("POST", f"v1/chats/{chat_id}/messages/{answer}", {"content": "mine"})
    assert r.code == 409
    await frames_until(ws, is_done(answer))
    r = await api("POST", f"v1/chats/{chat_id}/messages/{answer}", {"content": "mine"})
    assert r.code == 200 and r.json()["chat"]["history"]["messages"][answer]["content"] == "mine"


async def test_a_long_chain_with_backwards_timestamps_is_accepted_everywhere(api):
    n = 1500
    messages = chain(n, backwards=True)
    chat_id = await create(api, messages, f"m{n - 1}")
    got = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    assert (
        len(got["messages"]) == n
        and got["messages"][0]["id"] == "m0"
        and got["messages"][-1]["id"] == f"m{n - 1}"
    )
    more = chain(n, backwards=True, prefix="k")
    more["k0"]["parentId"] = f"m{n - 1}"
    r = await api(
        "POST",
        f"v1/chats/{chat_id}",
        {"chat": {"history": {"messages": more, "currentId": f"k{n - 1}"}}},
        headers={"Prefer": "return=minimal"},
    )
    assert r.code == 200, r.body
    branch = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["messages"]
    assert len(branch) == 2 * n and branch[n]["id"] == "k0"
    r = await api(
        "POST",
        "v1/chats/import",
        {"chat": {"title": "deep", "history": {"messages": messages, "currentId": f"m{n - 1}"}}},
    )
    assert r.code == 200, r.body
    assert len(r.json()[0]["chat"]["messages"]) == n


@pytest.mark.parametrize("shape", ["long cycle", "self parent", "cycle below a root"])
async def test_a_cycle_is_422_everywhere_and_nothing_is_written(api, shape):
    if shape == "long cycle":
        messages = chain(1200, backwards=True)
        messages["m0"]["parentId"] = "m1199"
    elif shape == "self parent":
        messages = chain(3)
        messages["m1"]["parentId"] = "m1"
    else:
        messages = chain(1100)
        messages["m500"]["parentId"] = "m1099"  # m500..m1099 loop; m0..m499 is a fine root chain
    history = {"messages": messages, "currentId": "m2"}
    chat_id = await create(api, chain(2, prefix="ok"), "ok1")
    before = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]
    for method, path, body in [
        ("POST", "v1/chats/new", {"chat": {"title": "loop", "history": history}}),
        ("POST", f"v1/chats/{chat_id}", {"chat": {"history": history}}),
        ("POST", "v1/chats/import", [{"chat": {"title": "loop", "history": history}}]),
    ]:
        r = await api(method, path, body)
        assert r.code == 422, (path, r.code, r.body[:200])
        assert "cycle" in r.json()["message"]
    chats = (await api("GET", "v1/chats/")).json()
    assert [c["id"] for c in chats] == [chat_id]
    assert (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"] == before


async def test_a_save_with_only_the_flat_messages_list_chains_them(api):
    chat_id = await create(api, chain(2), "m1")
    flat = [
        {"id": "f1", "parentId": "m1", "role": "user", "content": "flat one"},
        {"id": "f2", "role": "assistant", "content": "flat two"},
    ]
    r = await api("POST", f"v1/chats/{chat_id}", {"chat": {"title": "Flat", "messages": flat}})
    assert r.code == 200, r.body
    history = r.json()["chat"]["history"]
    assert (
        history["messages"]["f2"]["parentId"] == "f1"
        and history["messages"]["f1"]["parentId"] == "m1"
    )
    assert history["currentId"] == "f2" and r.json()["title"] == "Flat"


async def test_a_save_never_replaces_an_answer_with_an_unfinished_copy(api, jp_serverapp):
    messages = chain(4)
    messages["m3"]["done"] = False  # an answer still being written (stored unfinished)
    chat_id = await create(api, messages, "m3")
    before = stored_rows(jp_serverapp, chat_id)
    stale = chain(4)
    stale["m1"].update(content="", done=False)  # the client's placeholder of a finished answer
    stale["m3"].update(content="client text", done=True)
    stale["m2"]["content"] = "a user edit"  # still written
    r = await api(
        "POST", f"v1/chats/{chat_id}", {"chat": {"history": {"messages": stale, "currentId": "m3"}}}
    )
    assert r.code == 200, r.body
    after = stored_rows(jp_serverapp, chat_id)
    assert after["m1"] == before["m1"] and after["m3"] == before["m3"]
    assert after["m2"][2] == "a user edit"
    assert r.json()["chat"]["history"]["messages"]["m1"]["content"] == "message 1"


async def test_a_large_whole_chat_save_is_read_like_a_small_one(api, jp_serverapp):
    """A save body past the size where bodies are decoded in pieces (256 KiB; a 2,000-message
    chat is ~1 MB) adds its new message as a small one does."""
    messages = chain(1200)
    for message in messages.values():
        message["content"] = f"{message['content']} " + "words " * 60
    chat_id = await create(api, messages, "m1199")
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    history = chat["history"]
    history["messages"]["m1199"]["childrenIds"].append("new")
    history["messages"]["new"] = {
        "id": "new",
        "parentId": "m1199",
        "childrenIds": [],
        "role": "user",
        "content": "one more",
        "timestamp": 1_800_000_000,
    }
    history["currentId"] = "new"
    chat["messages"] = [*chat["messages"], history["messages"]["new"]]
    assert len(json.dumps({"chat": chat})) > 512 * 1024
    r = await api("POST", f"v1/chats/{chat_id}", {"chat": chat})
    assert r.code == 200, r.body
    rows = stored_rows(jp_serverapp, chat_id)
    assert len(rows) == 1201 and rows["new"][2] == "one more"
