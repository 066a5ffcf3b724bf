"""Memories over REST (Open WebUI's ``v1/memories`` routes and shapes) on SQLite and
PostgreSQL; the ``ui.memory`` user setting; memories in the system prompt the scripted
upstream receives, only when the setting (or the turn's ``features.memory``) says so; the
``remember`` tool run through the registry."""

from __future__ import annotations

from typing import Any

import pytest
from chat.helpers import scripted_settings

from oui_jupyter.services.users import UserInfo
from oui_jupyter.tools.base import ToolContext

pytestmark = pytest.mark.storage


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url, index_workspace=False)


async def add(api: Any, content: str, user: str = "alice") -> dict[str, Any]:
    r = await api("POST", "v1/memories/add", {"content": content}, user=user)
    assert r.code == 200, r.body
    return r.json()


async def set_memory(api: Any, on: bool, user: str = "alice") -> None:
    r = await api("POST", "v1/users/user/settings/update", {"ui": {"memory": on}}, user=user)
    assert r.code == 200 and r.json() == {"ui": {"memory": on}}, r.body


def system_of(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    return first["content"] if first["role"] == "system" else ""


async def test_add_list_update_query_delete(api):
    one = await add(api, "My favourite colour is teal")
    assert set(one) == {"id", "user_id", "content", "updated_at", "created_at"}
    assert one["user_id"] == "alice" and isinstance(one["created_at"], int)
    two = await add(api, "I work on penguin migration data")
    r = await api("GET", "v1/memories/")
    assert [m["id"] for m in r.json()] == [one["id"], two["id"]]

    r = await api("POST", "v1/memories/query", {"content": "which colour do I like?", "k": 1})
    assert r.code == 200, r.body
    found = r.json()
    assert found["ids"] == [[one["id"]]] and found["documents"] == [[one["content"]]]
    assert found["metadatas"][0][0]["created_at"] == one["created_at"]
    assert 0 < found["distances"][0][0] <= 1

    r = await api("POST", f"v1/memories/{one['id']}/update", {"content": "Favourite colour: red"})
    assert r.code == 200 and r.json()["content"] == "Favourite colour: red"
    assert r.json()["id"] == one["id"]

    r = await api("DELETE", f"v1/memories/{one['id']}")
    assert r.code == 200 and r.json() is True
    assert [m["id"] for m in (await api("GET", "v1/memories/")).json()] == [two["id"]]
    assert (await api("POST", "v1/memories/reset")).json() is True
    r = await api("DELETE", "v1/memories/delete/user")
    assert r.code == 200 and r.json() is True
    assert (await api("GET", "v1/memories/")).json() == []
    r = await api("POST", "v1/memories/query", {"content": "colour"})
    assert r.code == 404


async def test_memories_are_their_owners_only(api):
    mine = await add(api, "Alice keeps a secret")
    assert (await api("GET", "v1/memories/", user="bob")).json() == []
    r = await api("POST", f"v1/memories/{mine['id']}/update", {"content": "x"}, user="bob")
    assert r.code == 404
    assert (await api("DELETE", f"v1/memories/{mine['id']}", user="bob")).code == 404
    assert (await api("DELETE", "v1/memories/delete/user", user="bob")).code == 200
    assert len((await api("GET", "v1/memories/")).json()) == 1


@pytest.mark.parametrize(
    "path,body",
    [
        ("v1/memories/add", {"content": ""}),
        ("v1/memories/add", {"content": 5}),
        ("v1/memories/add", {}),
        ("v1/memories/add", {"content": "x" * 10_001}),
        ("v1/memories/query", {"content": "x", "k": 0}),
        ("v1/memories/query", {"content": "x", "k": "many"}),
        ("v1/users/user/settings/update", {"ui": "dark"}),
        ("v1/users/user/settings/update", ["ui"]),
    ],
)
async def test_bad_input_is_422(api, path, body):
    r = await api("POST", path, body)
    assert r.code == 422, r.body


async def test_settings_round_trip(api):
    assert (await api("GET", "v1/users/user/settings")).json() == {}
    await set_memory(api, True)
    assert (await api("GET", "v1/users/user/settings")).json() == {"ui": {"memory": True}}
    assert (await api("GET", "v1/users/user/settings", user="bob")).json() == {}


async def test_memories_reach_the_system_prompt_only_when_turned_on(api, scripted_openai):
    await add(api, "My favourite colour is teal")
    await add(api, "I live in Lisbon")
    ask = {"model": "fast", "messages": [{"role": "user", "content": "What colour do I like?"}]}

    scripted_openai.reset()
    assert (await api("POST", "chat/completions", {**ask, "stream": False})).code == 200
    assert "teal" not in str(scripted_openai.requests[-1]["messages"])  # off by default

    await set_memory(api, True)
    scripted_openai.reset()
    assert (await api("POST", "chat/completions", {**ask, "stream": False})).code == 200
    system = system_of(scripted_openai.requests[-1])
    assert system.startswith("User Context:\n1. [") and "My favourite colour is teal" in system
    assert "Lisbon" not in system  # not relevant to the question

    # a persisted turn: the server builds the prompt; another user sees none of alice's
    r = await api("POST", "v1/chats/new", {"chat": {"title": "t", "models": ["fast"]}})
    chat_id = r.json()["id"]
    scripted_openai.reset()
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "Which colour suits me?"})
    assert r.code == 200, r.body
    assert "teal" in system_of(scripted_openai.requests[-1])
    await set_memory(api, True, user="bob")
    scripted_openai.reset()
    assert (await api("POST", "chat/completions", {**ask, "stream": False}, user="bob")).code == 200
    assert "teal" not in str(scripted_openai.requests[-1]["messages"])

    # the turn's features.memory wins over the setting
    scripted_openai.reset()
    body = {**ask, "stream": False, "features": {"memory": False}}
    assert (await api("POST", "chat/completions", body)).code == 200
    assert "teal" not in str(scripted_openai.requests[-1]["messages"])

    await set_memory(api, False)
    scripted_openai.reset()
    assert (await api("POST", "chat/completions", {**ask, "stream": False})).code == 200
    assert "teal" not in str(scripted_openai.requests[-1]["messages"])


async def test_memory_joins_the_clients_system_message(api, scripted_openai):
    await add(api, "Answers should be in French")
    await set_memory(api, True)
    scripted_openai.reset()
    body = {
        "model": "fast",
        "stream": False,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Which language should answers be in?"},
        ],
    }
    assert (await api("POST", "chat/completions", body)).code == 200
    messages = scripted_openai.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith("Be brief.\nUser Context:\n")
    assert "Answers should be in French" in messages[0]["content"]


async def test_the_remember_tool_adds_a_memory_for_the_caller(api, jp_serverapp, jp_root_dir):
    r = await api("GET", "v1/tools/")
    remember = next(t for t in r.json() if t["id"] == "remember")
    assert remember["source"] == "builtin" and not remember["requires_approval"]
    services = jp_serverapp.web_app.settings["oui_runtime"].services
    await api("GET", "v1/memories/", user="bob")  # bob's row exists
    bob = UserInfo("bob", "Bob", "Bob B.", "user", ())
    ctx = ToolContext(user=bob, root_dir=str(jp_root_dir))
    result = await services.tools.run("remember", '{"content": "Bob prefers polars"}', ctx)
    assert result.content == "Remembered: Bob prefers polars"
    listed = (await api("GET", "v1/memories/", user="bob")).json()
    assert [m["content"] for m in listed] == ["Bob prefers polars"]
    assert listed[0]["id"] == result.data["id"]
    assert (await api("GET", "v1/memories/", user="alice")).json() == []
    with pytest.raises(Exception, match="content"):
        await services.tools.run("remember", {"content": ""}, ctx)
