"""Fixtures of the chat tests: a chat to talk in, WebSockets as alice or bob."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def new_chat(api: Any) -> Any:
    async def make(user: str = "alice", model: str = "smollm2", title: str = "New Chat") -> str:
        r = await api(
            "POST", "v1/chats/new", {"chat": {"title": title, "models": [model]}}, user=user
        )
        assert r.code == 200, r.body
        return r.json()["id"]

    return make


@pytest.fixture
def ws_connect(jp_ws_fetch: Any) -> Any:
    async def connect(user: str = "alice") -> Any:
        return await jp_ws_fetch(
            "oui", "api", "events", headers={"Authorization": f"token {user}-token"}
        )

    return connect


@pytest.fixture
def oui_url(jp_fetch: Any, jp_http_port: int, jp_base_url: str) -> str:
    """``http://localhost:<port><base>oui/api`` of a server that is listening (``jp_http_port``
    alone is only a bound port: ``jp_fetch``'s fixtures start serving it)."""
    return f"http://localhost:{jp_http_port}{jp_base_url}oui/api"
