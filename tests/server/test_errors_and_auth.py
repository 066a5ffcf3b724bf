"""Bad input gets an honest JSON status, never a 500 (strangers: see test_route_auth.py)."""

from __future__ import annotations

from typing import Any

import pytest


async def test_malformed_json_is_400(api):
    r = await api("POST", "v1/chats/new", raw=b"{not json")
    assert r.code == 400
    body = r.json()
    assert "Malformed JSON" in body["message"] and "Traceback" not in r.body.decode()


async def test_invalid_fields_are_422(api):
    r = await api("POST", "v1/chats/new", {"chat": "not an object"})
    assert r.code == 422 and "chat" in r.json()["message"]
    r = await api("POST", "v1/chats/new", {"chat": {"title": 5}})
    assert r.code == 422
    r = await api(
        "POST",
        "v1/chats/new",
        {"chat": {"history": {"messages": {"a": {"id": "a", "role": "user", "content": 3}}}}},
    )
    assert r.code == 422
    r = await api("GET", "v1/chats/", params={"page": "zero"})
    assert r.code == 422
    r = await api("GET", "v1/chats/", params={"page": "0"})
    assert r.code == 422
    r = await api("POST", "v1/folders/", {"name": ""})
    assert r.code == 422


async def test_cycles_in_history_are_422(api):
    messages = {
        "a": {"id": "a", "parentId": "b", "role": "user", "content": "1"},
        "b": {"id": "b", "parentId": "a", "role": "assistant", "content": "2"},
    }
    r = await api("POST", "v1/chats/new", {"chat": {"history": {"messages": messages}}})
    assert r.code == 422


async def test_missing_chat_is_404_with_json(api):
    r = await api("GET", "v1/chats/does-not-exist")
    assert r.code == 404
    assert r.json()["message"] == "Chat does-not-exist not found"


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    return {"max_body_size": 2048}


async def test_body_over_the_limit_is_413_and_saved_data_survives(api):
    chat = (await api("POST", "v1/chats/new", {"chat": {"title": "keep me"}})).json()
    big = {"chat": {"title": "x" * 5000}}
    r = await api("POST", f"v1/chats/{chat['id']}", big)
    assert r.code == 413
    assert (await api("GET", f"v1/chats/{chat['id']}")).json()["title"] == "keep me"


async def test_current_user_and_version(api):
    me = (await api("GET", "v1/users/user")).json()
    assert me["id"] == "alice" and me["name"] == "Alice" and me["role"] in ("admin", "user")
    config = (await api("GET", "config")).json()
    assert config["name"] == "oui-jupyter" and config["features"]["admin"] is (
        me["role"] == "admin"
    )
    assert (await api("GET", "version")).json()["version"] == config["version"]
