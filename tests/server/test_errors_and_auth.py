"""Every route refuses strangers; bad input gets an honest JSON status, never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from oui_jupyter.handlers.routes import ROUTES

NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
OPTIONAL_GROUP = re.compile(r"\(\?:[^()]*(?:\([^()]*\)[^()]*)*\)\?")


def concrete(pattern: str) -> str:
    path = OPTIONAL_GROUP.sub("", pattern)
    path = NAMED_GROUP.sub("x", path)
    return path.replace("/?", "/").replace("\\.", ".")


def route_verbs() -> list[tuple[str, str]]:
    cases = []
    for pattern, handler in ROUTES:
        verbs = [v.upper() for v in getattr(handler, "api", {})] or ["GET"]
        for verb in verbs:
            cases.append((verb, concrete(pattern)))
    return cases


@pytest.mark.parametrize(("method", "path"), route_verbs())
@pytest.mark.parametrize("auth", ["", "token wrong-token", "Bearer wrong-token"])
async def test_every_route_refuses_anonymous_and_wrong_tokens(jp_fetch, method, path, auth):
    kwargs: dict[str, Any] = {"method": method, "headers": {"Authorization": auth}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["body"] = "{}"
    if method == "DELETE":
        kwargs["allow_nonstandard_methods"] = True
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("oui", "api", *path.split("/"), **kwargs)
    assert info.value.code in (401, 403), (method, path, info.value.code)


def test_route_table_has_every_handler_authenticated():
    """Each verb is wrapped by @web.authenticated (and @authorized) like jupyter_server's."""
    for _pattern, handler in ROUTES:
        for verb in getattr(handler, "api", {}) or {"get": None}:
            method = getattr(handler, verb)
            assert hasattr(method, "__wrapped__"), f"{handler.__name__}.{verb} is not decorated"


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
