"""Imports, clones and exports of whole chats: complete, bounded (413), and never on the
event loop (another request is answered while one runs), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.storage

MAX_CHATS = 700
MAX_MESSAGES = 6000


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    return {"max_import_chats": MAX_CHATS, "max_import_messages": MAX_MESSAGES}


def chain(n: int, prefix: str = "m", *, offset: int = 0) -> dict[str, Any]:
    """A chat of ``n`` messages in a line, with one side branch, as Open WebUI exports it."""
    messages: dict[str, Any] = {}
    parent = None
    for i in range(n):
        mid = f"{prefix}{i}"
        messages[mid] = {
            "id": mid,
            "parentId": parent,
            "childrenIds": [],
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i} ünïcode ✓",
            "timestamp": 1_700_000_000 + offset + i,
            "usage": {"n": i},
        }
        if parent:
            messages[parent]["childrenIds"].append(mid)
        parent = mid
    if n > 1:
        messages[f"{prefix}-side"] = {
            "id": f"{prefix}-side",
            "parentId": f"{prefix}0",
            "role": "assistant",
            "content": "another answer",
            "timestamp": 1_700_000_000 + offset + 1,
        }
    return {"title": f"chain {prefix}", "history": {"messages": messages, "currentId": parent}}


def services_of(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["oui_runtime"].services


class Gate:
    """Holds a store call in its worker thread until the test opens the gate."""

    def __init__(self, target: Any, name: str) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        original: Callable[..., Any] = getattr(target, name)

        def held(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            if not self.opened.wait(30):
                raise AssertionError("the gate was never opened: the event loop was blocked")
            return original(*args, **kwargs)

        setattr(target, name, held)

    async def wait_entered(self) -> None:
        for _ in range(3000):
            if self.entered.is_set():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the request never reached the store")


async def test_an_import_of_n_messages_ends_with_all_n_readable(api):
    n = 4500  # more than a write batch (2,000 rows): several statements
    r = await api("POST", "v1/chats/import", {"chats": [{"chat": chain(n)}]}, timeout=120)
    assert r.code == 200, r.body
    imported = r.json()
    assert len(imported) == 1
    answered = imported[0]["chat"]["history"]
    assert len(answered["messages"]) == n + 1
    got = (await api("GET", f"v1/chats/{imported[0]['id']}", timeout=120)).json()
    history = got["chat"]["history"]
    assert history == answered  # the answer is what is stored
    assert len(history["messages"]) == n + 1 and history["currentId"] == f"m{n - 1}"
    assert history["messages"]["m0"]["childrenIds"] == ["m1", "m-side"]
    assert history["messages"][f"m{n - 1}"]["parentId"] == f"m{n - 2}"
    assert history["messages"]["m7"]["usage"] == {"n": 7}
    assert history["messages"]["m3"]["content"] == "message 3 ünïcode ✓"
    assert [m["id"] for m in got["chat"]["messages"]] == [f"m{i}" for i in range(n)]


async def test_many_chats_in_one_import_are_all_there_with_their_tags(api):
    small = [
        {
            "chat": {**chain(2, f"c{i}-"), "tags": ["Batch"]},
            "meta": {"tags": ["imported", "Batch"]},
            "pinned": i == 0,
            "created_at": 1_700_000_000 + i,
            "updated_at": 1_700_000_000 + i,
        }
        for i in range(MAX_CHATS - 1)
    ]
    r = await api("POST", "v1/chats/import", [*small, {"chat": chain(1500, "big")}], timeout=120)
    assert r.code == 200, r.body
    answered = r.json()
    assert len(answered) == MAX_CHATS
    assert answered[0]["pinned"] is True and answered[0]["meta"]["tags"] == ["batch", "imported"]
    assert len(answered[-1]["chat"]["history"]["messages"]) == 1501
    listed = []
    for page in range(1, 14):
        listed += (
            await api("GET", "v1/chats/", params={"page": page, "include_pinned": "true"})
        ).json()
    assert {c["id"] for c in listed} == {c["id"] for c in answered}
    tagged = (await api("POST", "v1/chats/tags", {"name": "imported"})).json()
    assert len(tagged) == MAX_CHATS - 1
    assert {t["id"] for t in (await api("GET", "v1/chats/all/tags")).json()} == {
        "batch",
        "imported",
    }
    one = (await api("GET", f"v1/chats/{answered[5]['id']}")).json()
    assert one == answered[5]


async def test_too_many_chats_is_413_before_anything_is_written(api):
    items = [{"chat": {"title": f"t{i}"}} for i in range(MAX_CHATS + 1)]
    r = await api("POST", "v1/chats/import", items)
    assert r.code == 413
    body = r.json()
    assert body["reason"] == "import_too_many_chats"
    assert f"{MAX_CHATS + 1} chats" in body["message"] and "max_import_chats" in body["message"]
    assert (await api("GET", "v1/chats/")).json() == []


async def test_too_many_messages_is_413_before_anything_is_written(api):
    half = MAX_MESSAGES // 2
    # a tree and a flat list: both count; the first chat alone is within the limit
    items = [
        {"chat": chain(half, "a")},  # half + 1 messages (with its side branch)
        {"chat": {"messages": [{"role": "user", "content": str(i)} for i in range(half)]}},
    ]
    r = await api("POST", "v1/chats/import", items)
    assert r.code == 413
    body = r.json()
    assert body["reason"] == "import_too_many_messages"
    assert (
        f"{MAX_MESSAGES + 1} messages" in body["message"]
        and "max_import_messages" in body["message"]
    )
    assert (await api("GET", "v1/chats/")).json() == []
    # at the limit: accepted
    items[1]["chat"]["messages"].pop()
    assert (await api("POST", "v1/chats/import", items, timeout=120)).code == 200


async def test_a_bad_chat_anywhere_writes_nothing(api):
    items = [{"chat": chain(3000, "ok")}, {"chat": {"title": 5}}]
    r = await api("POST", "v1/chats/import", items)
    assert r.code == 422
    assert (await api("GET", "v1/chats/")).json() == []


async def test_other_requests_are_answered_while_an_import_runs(api, jp_serverapp):
    await api("GET", "v1/chats/")  # services built
    gate = Gate(services_of(jp_serverapp).chat_bulk.store, "insert_chats")
    importing = asyncio.ensure_future(
        api("POST", "v1/chats/import", [{"chat": chain(3000)}], timeout=60)
    )
    await gate.wait_entered()  # the import is being written, in its worker thread
    version = await api("GET", "version")
    listed = await api("GET", "v1/chats/")
    assert version.code == 200 and listed.code == 200
    assert not importing.done()  # both were answered while the import was still running
    gate.opened.set()
    r = await importing
    assert r.code == 200, r.body
    assert len(r.json()[0]["chat"]["history"]["messages"]) == 3001


async def test_other_requests_are_answered_while_a_clone_runs(api, jp_serverapp):
    r = await api("POST", "v1/chats/import", [{"chat": {**chain(3000), "tags": ["t"]}}], timeout=60)
    source = r.json()[0]
    gate = Gate(services_of(jp_serverapp).chat_bulk.store, "clone_chat")
    cloning = asyncio.ensure_future(api("POST", f"v1/chats/{source['id']}/clone", {}, timeout=60))
    await gate.wait_entered()
    assert (await api("GET", "version")).code == 200
    assert (await api("GET", f"v1/chats/{source['id']}", timeout=60)).code == 200
    assert not cloning.done()
    gate.opened.set()
    r = await cloning
    assert r.code == 200, r.body
    clone = r.json()
    assert clone["id"] != source["id"] and clone["title"] == "Clone of chain m"
    assert clone["chat"]["history"] == source["chat"]["history"]
    assert clone["meta"]["tags"] == ["t"]
    # the copy is independent of its source
    assert (await api("DELETE", f"v1/chats/{source['id']}")).json() is True
    got = (await api("GET", f"v1/chats/{clone['id']}", timeout=60)).json()
    assert len(got["chat"]["history"]["messages"]) == 3001
    assert [t["id"] for t in (await api("GET", f"v1/chats/{clone['id']}/tags")).json()] == ["t"]
    assert (await api("POST", f"v1/chats/{source['id']}/clone", {})).code == 404
    assert (await api("POST", f"v1/chats/{clone['id']}/clone", {}, user="bob")).code == 404


async def test_concurrent_saves_of_one_chat_add_a_message_once(api):
    cid = (await api("POST", "v1/chats/new", {"chat": {**chain(2), "title": "T"}})).json()["id"]
    saved = chain(4)
    results = await asyncio.gather(
        *(api("POST", f"v1/chats/{cid}", {"chat": saved}) for _ in range(6))
    )
    assert [r.code for r in results] == [200] * 6, [r.body for r in results]
    history = (await api("GET", f"v1/chats/{cid}")).json()["chat"]["history"]
    assert set(history["messages"]) == {"m0", "m1", "m2", "m3", "m-side"}
    assert history["messages"]["m2"]["childrenIds"] == ["m3"]


async def test_export_of_all_chats_has_every_chat_with_its_tree(api):
    ids = []
    for i in range(45):  # several pieces of the streamed answer
        r = await api("POST", "v1/chats/new", {"chat": {**chain(3, f"c{i}-"), "title": f"c{i}"}})
        ids.append(r.json()["id"])
    await api("POST", f"v1/chats/{ids[0]}/archive")
    await api("POST", "v1/chats/new", {"chat": {"title": "not yours"}}, user="bob")
    r = await api("GET", "v1/chats/all")
    assert r.code == 200 and r.headers["Content-Type"].startswith("application/json")
    exported = json.loads(r.body)
    assert sorted(c["id"] for c in exported) == sorted(ids)
    assert [c["id"] for c in exported if c["archived"]] == [ids[0]]
    first = next(c for c in exported if c["id"] == ids[3])
    assert set(first["chat"]["history"]["messages"]) == {"c3-0", "c3-1", "c3-2", "c3--side"}
    assert [c["title"] for c in (await api("GET", "v1/chats/all", user="bob")).json()] == [
        "not yours"
    ]
    # what was exported imports again, whole
    again = await api("POST", "v1/chats/import", exported, user="bob", timeout=60)
    assert again.code == 200 and len(again.json()) == 45
    bobs = (await api("GET", "v1/chats/all", user="bob")).json()
    assert sorted(c["title"] for c in bobs) == sorted(["not yours", *(f"c{i}" for i in range(45))])


async def test_export_formats_of_a_long_chat(api):
    cid = (await api("POST", "v1/chats/import", [{"chat": chain(2500)}], timeout=60)).json()[0][
        "id"
    ]
    md = await api("GET", f"v1/chats/{cid}/export", params={"format": "markdown"}, timeout=60)
    assert md.code == 200 and md.body.decode().count("### ") == 2500
    js = await api("GET", f"v1/chats/{cid}/export", params={"format": "json"}, timeout=60)
    assert len(js.json()[0]["chat"]["history"]["messages"]) == 2501
    nb = await api("GET", f"v1/chats/{cid}/export", params={"format": "ipynb"}, timeout=60)
    assert json.loads(nb.body)["nbformat"] == 4
    assert "attachment" in nb.headers["Content-Disposition"]
