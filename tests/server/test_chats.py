"""The chats REST API in Open WebUI's shapes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.storage


def tree(*pairs: tuple[str, str | None, str, str]) -> dict[str, Any]:
    """history.messages from (id, parentId, role, content) tuples."""
    messages: dict[str, Any] = {}
    for i, (mid, parent, role, content) in enumerate(pairs):
        messages[mid] = {
            "id": mid,
            "parentId": parent,
            "childrenIds": [],
            "role": role,
            "content": content,
            "timestamp": 1_700_000_000 + i,
        }
    for mid, parent, _, _ in pairs:
        if parent:
            messages[parent]["childrenIds"].append(mid)
    return messages


async def new_chat(api: Any, user: str = "alice", **chat: Any) -> dict[str, Any]:
    r = await api("POST", "v1/chats/new", {"chat": {"title": "T", **chat}}, user=user)
    assert r.code == 200, r.body
    return r.json()


async def test_new_and_get_assembles_the_tree(api):
    messages = tree(
        ("u1", None, "user", "hi"),
        ("a1", "u1", "assistant", "hello"),
        ("a2", "u1", "assistant", "hello again"),
        ("u2", "a2", "user", "how are you?"),
    )
    chat = await new_chat(
        api,
        title="Greetings",
        models=["smollm2"],
        history={"messages": messages, "currentId": "u2"},
        tags=["Small Talk"],
    )
    assert chat["title"] == "Greetings"
    assert chat["chat"]["models"] == ["smollm2"]
    got = (await api("GET", f"v1/chats/{chat['id']}")).json()
    history = got["chat"]["history"]
    assert history["currentId"] == "u2"
    assert history["messages"]["u1"]["childrenIds"] == ["a1", "a2"]
    assert history["messages"]["a2"]["parentId"] == "u1"
    assert [m["id"] for m in got["chat"]["messages"]] == ["u1", "a2", "u2"]
    assert got["chat"]["tags"] == ["small_talk"]
    assert got["meta"]["tags"] == ["small_talk"]


async def test_flat_messages_are_chained(api):
    chat = await new_chat(
        api,
        messages=[
            {"id": "m1", "role": "user", "content": "one"},
            {"id": "m2", "role": "assistant", "content": "two"},
        ],
    )
    history = chat["chat"]["history"]
    assert history["messages"]["m2"]["parentId"] == "m1"
    assert history["currentId"] == "m2"


async def test_list_is_paged_newest_first_without_bodies(api):
    ids = []
    for i in range(65):
        ids.append((await new_chat(api, title=f"chat {i}"))["id"])
    page1 = (await api("GET", "v1/chats/", params={"page": 1})).json()
    page2 = (await api("GET", "v1/chats/", params={"page": 2})).json()
    assert len(page1) == 60 and len(page2) == 5
    assert page1[0]["id"] == ids[-1]
    assert page2[-1]["id"] == ids[0]
    assert "chat" not in page1[0] and set(page1[0]) >= {
        "id",
        "title",
        "updated_at",
        "created_at",
        "pinned",
    }
    assert (await api("GET", "v1/chats/", user="bob")).json() == []


async def test_merge_update_never_deletes_messages_a_stale_client_did_not_know(api):
    chat = await new_chat(
        api, history={"messages": tree(("u1", None, "user", "q")), "currentId": "u1"}
    )
    cid = chat["id"]
    # Tab A adds an answer.
    tab_a = tree(("u1", None, "user", "q"), ("a1", "u1", "assistant", "answer A"))
    r = await api(
        "POST", f"v1/chats/{cid}", {"chat": {"history": {"messages": tab_a, "currentId": "a1"}}}
    )
    assert r.code == 200
    # Tab B, stale (never saw a1), renames and edits its own message.
    tab_b = tree(("u1", None, "user", "q (edited)"))
    r = await api(
        "POST",
        f"v1/chats/{cid}",
        {"chat": {"title": "Renamed", "history": {"messages": tab_b, "currentId": "u1"}}},
    )
    assert r.code == 200
    got = (await api("GET", f"v1/chats/{cid}")).json()
    messages = got["chat"]["history"]["messages"]
    assert set(messages) == {"u1", "a1"}
    assert messages["u1"]["content"] == "q (edited)"
    assert messages["a1"]["content"] == "answer A"
    assert got["title"] == "Renamed"


async def test_merge_update_with_prefer_minimal_leaves_out_the_tree(api):
    chat = await new_chat(
        api, history={"messages": tree(("u1", None, "user", "q")), "currentId": "u1"}
    )
    cid = chat["id"]
    added = tree(("u1", None, "user", "q"), ("a1", "u1", "assistant", "answer"))
    r = await api(
        "POST",
        f"v1/chats/{cid}",
        {"chat": {"title": "Kept", "history": {"messages": added, "currentId": "a1"}}},
        headers={"Prefer": "return=minimal"},
    )
    assert r.code == 200
    body = r.json()
    assert body["id"] == cid and body["title"] == "Kept"
    assert "history" not in body["chat"] and "messages" not in body["chat"]
    got = (await api("GET", f"v1/chats/{cid}")).json()
    assert set(got["chat"]["history"]["messages"]) == {"u1", "a1"}
    assert got["chat"]["history"]["currentId"] == "a1"


async def test_delete_and_not_yours(api):
    chat = await new_chat(api)
    cid = chat["id"]
    assert (await api("GET", f"v1/chats/{cid}", user="bob")).code == 404
    assert (await api("DELETE", f"v1/chats/{cid}", user="bob")).code == 404
    assert (await api("POST", f"v1/chats/{cid}", {"chat": {"title": "x"}}, user="bob")).code == 404
    assert (await api("DELETE", f"v1/chats/{cid}")).json() is True
    assert (await api("GET", f"v1/chats/{cid}")).code == 404


async def test_search_title_and_content(api):
    await new_chat(api, title="Pandas tricks")
    await new_chat(
        api,
        history={
            "messages": tree(("u1", None, "user", "what is a 100% DataFrame?")),
            "currentId": "u1",
        },
    )
    await new_chat(api, user="bob", title="Pandas for bob")
    by_title = (await api("GET", "v1/chats/search", params={"text": "pandas"})).json()
    assert [c["title"] for c in by_title] == ["Pandas tricks"]
    by_content = (await api("GET", "v1/chats/search", params={"text": "100% dataframe"})).json()
    assert len(by_content) == 1
    assert (await api("GET", "v1/chats/search", params={"text": "_"})).json() == []


async def test_pin_archive_and_their_lists(api):
    cid = (await new_chat(api))["id"]
    assert (await api("POST", f"v1/chats/{cid}/pin")).json()["pinned"] is True
    assert [c["id"] for c in (await api("GET", "v1/chats/pinned")).json()] == [cid]
    assert (await api("POST", f"v1/chats/{cid}/pin")).json()["pinned"] is False
    assert (await api("POST", f"v1/chats/{cid}/archive")).json()["archived"] is True
    assert (await api("GET", "v1/chats/")).json() == []
    assert [c["id"] for c in (await api("GET", "v1/chats/archived")).json()] == [cid]


async def test_clone_copies_the_tree(api):
    messages = tree(("u1", None, "user", "q"), ("a1", "u1", "assistant", "a"))
    cid = (await new_chat(api, title="Orig", history={"messages": messages, "currentId": "a1"}))[
        "id"
    ]
    clone = (await api("POST", f"v1/chats/{cid}/clone")).json()
    assert clone["id"] != cid and clone["title"] == "Clone of Orig"
    assert clone["chat"]["history"]["currentId"] == "a1"
    assert set(clone["chat"]["history"]["messages"]) == {"u1", "a1"}
    # The copy is independent.
    await api("DELETE", f"v1/chats/{cid}")
    assert (await api("GET", f"v1/chats/{clone['id']}")).code == 200


async def test_tags(api):
    cid = (await new_chat(api))["id"]
    r = await api("POST", f"v1/chats/{cid}/tags", {"name": "Data Viz"})
    assert [t["id"] for t in r.json()] == ["data_viz"]
    await api("POST", f"v1/chats/{cid}/tags", {"name": "pandas"})
    assert {t["id"] for t in (await api("GET", "v1/chats/all/tags")).json()} == {
        "data_viz",
        "pandas",
    }
    tagged = (await api("POST", "v1/chats/tags", {"name": "Data Viz"})).json()
    assert [c["id"] for c in tagged] == [cid]
    r = await api("DELETE", f"v1/chats/{cid}/tags", {"name": "pandas"})
    assert [t["id"] for t in r.json()] == ["data_viz"]
    assert {t["id"] for t in (await api("GET", "v1/chats/all/tags")).json()} == {"data_viz"}
    assert (await api("DELETE", f"v1/chats/{cid}/tags/all")).json() is True
    assert (await api("GET", f"v1/chats/{cid}/tags")).json() == []
    assert (await api("GET", f"v1/chats/{cid}/tags", user="bob")).code == 404


async def test_folders(api):
    folder = (await api("POST", "v1/folders/", {"name": "Project X"})).json()
    sub = (await api("POST", "v1/folders/", {"name": "Sub", "parent_id": folder["id"]})).json()
    assert (await api("POST", "v1/folders/", {"name": "project x"})).code == 409
    cid = (await new_chat(api))["id"]
    moved = (await api("POST", f"v1/chats/{cid}/folder", {"folder_id": folder["id"]})).json()
    assert moved["folder_id"] == folder["id"]
    listed = (await api("GET", f"v1/chats/folder/{folder['id']}")).json()
    assert [c["id"] for c in listed] == [cid]
    r = await api("POST", f"v1/folders/{folder['id']}/update", {"name": "Renamed"})
    assert r.json()["name"] == "Renamed"
    r = await api("POST", f"v1/folders/{folder['id']}/update/parent", {"parent_id": sub["id"]})
    assert r.code == 409
    assert (await api("GET", f"v1/folders/{folder['id']}", user="bob")).code == 404
    assert (
        await api("POST", f"v1/chats/{cid}/folder", {"folder_id": folder["id"]}, user="bob")
    ).code == 404
    assert (await api("DELETE", f"v1/folders/{folder['id']}")).json() is True
    chat = (await api("GET", f"v1/chats/{cid}")).json()
    assert chat["folder_id"] is None
    assert (await api("GET", "v1/folders/")).json() == []


async def test_export_json_roundtrips_through_import(api):
    messages = tree(
        ("u1", None, "user", "plot it"), ("a1", "u1", "assistant", "```python\nprint(1)\n```")
    )
    cid = (
        await new_chat(
            api, title="Plotting", history={"messages": messages, "currentId": "a1"}, tags=["viz"]
        )
    )["id"]
    exported = await api("GET", f"v1/chats/{cid}/export", params={"format": "json"})
    data = exported.json()
    assert isinstance(data, list) and data[0]["id"] == cid
    imported = await api("POST", "v1/chats/import", data, user="bob")
    assert imported.code == 200, imported.body
    copy = imported.json()[0]
    assert copy["user_id"] == "bob" and copy["title"] == "Plotting"
    assert copy["chat"]["history"]["currentId"] == "a1"
    assert copy["chat"]["history"]["messages"]["a1"]["content"].startswith("```python")
    assert copy["meta"]["tags"] == ["viz"]


async def test_import_open_webui_export_shape(api):
    """An export as Open WebUI writes it: a list of ChatResponse with millisecond timestamps."""
    export = [
        {
            "id": str(uuid.uuid4()),
            "user_id": "someone",
            "title": "From Open WebUI",
            "chat": {
                "id": "",
                "title": "From Open WebUI",
                "models": ["llama3"],
                "params": {},
                "history": {
                    "messages": {
                        "x1": {
                            "id": "x1",
                            "parentId": None,
                            "childrenIds": ["x2"],
                            "role": "user",
                            "content": "hello",
                            "timestamp": 1_720_000_000,
                            "models": ["llama3"],
                        },
                        "x2": {
                            "id": "x2",
                            "parentId": "x1",
                            "childrenIds": [],
                            "role": "assistant",
                            "content": "hi!",
                            "model": "llama3",
                            "done": True,
                            "timestamp": 1_720_000_001,
                            "usage": {"total_tokens": 5},
                        },
                    },
                    "currentId": "x2",
                },
                "messages": [],
                "tags": [],
                "timestamp": 1_720_000_000_000,
                "files": [],
            },
            "updated_at": 1_720_000_100,
            "created_at": 1_720_000_000,
            "share_id": None,
            "archived": False,
            "pinned": True,
            "meta": {"tags": ["imported"]},
            "folder_id": None,
        }
    ]
    r = await api("POST", "v1/chats/import", export)
    assert r.code == 200, r.body
    chat = r.json()[0]
    assert chat["pinned"] is True and chat["created_at"] == 1_720_000_000
    assert chat["chat"]["history"]["messages"]["x2"]["usage"] == {"total_tokens": 5}
    assert chat["chat"]["history"]["messages"]["x1"]["models"] == ["llama3"]
    assert [m["id"] for m in chat["chat"]["messages"]] == ["x1", "x2"]


async def test_import_rejects_bad_input_and_writes_nothing(api):
    bad = [
        {"chat": {"title": "ok", "messages": []}},
        {"chat": {"history": {"messages": {"a": {"id": "a", "role": "wizard"}}}}},
    ]
    r = await api("POST", "v1/chats/import", bad)
    assert r.code == 422
    assert (await api("GET", "v1/chats/")).json() == []


async def test_export_markdown_and_ipynb(api):
    messages = tree(
        ("u1", None, "user", "make a plot"),
        ("a1", "u1", "assistant", "Here:\n```python\nx = 1\n```\nDone."),
    )
    cid = (await new_chat(api, title="Plot", history={"messages": messages, "currentId": "a1"}))[
        "id"
    ]
    md = await api("GET", f"v1/chats/{cid}/export", params={"format": "markdown"})
    assert md.code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    text = md.body.decode()
    assert text.startswith("# Plot") and "### User" in text and "make a plot" in text
    nb = await api("GET", f"v1/chats/{cid}/export", params={"format": "ipynb"})
    notebook = json.loads(nb.body)
    assert notebook["nbformat"] == 4
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert [c["source"] for c in code_cells] == ["x = 1"]
    assert all("id" in c for c in notebook["cells"])
    assert (await api("GET", f"v1/chats/{cid}/export", params={"format": "pdf"})).code == 422


async def test_share_is_readable_by_id(api):
    cid = (await new_chat(api, title="Shared"))["id"]
    shared = (await api("POST", f"v1/chats/{cid}/share")).json()
    assert shared["share_id"]
    r = await api("GET", f"v1/chats/share/{shared['share_id']}", user="bob")
    assert r.code == 200 and r.json()["title"] == "Shared"
    assert (await api("DELETE", f"v1/chats/{cid}/share")).json() is True
    assert (await api("GET", f"v1/chats/share/{shared['share_id']}", user="bob")).code == 404


async def test_delete_all_only_mine(api):
    await new_chat(api)
    await new_chat(api, user="bob")
    assert (await api("DELETE", "v1/chats/")).json() is True
    assert (await api("GET", "v1/chats/")).json() == []
    assert len((await api("GET", "v1/chats/", user="bob")).json()) == 1
