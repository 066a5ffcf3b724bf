"""On a plain single-user server every token request is the owner, not a new anonymous user."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def jp_server_config(oui_database_url: str, tmp_path: Any) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"oui_jupyter": True}},
        "OuiJupyter": {
            "database_url": oui_database_url,
            "data_dir": str(tmp_path / "oui-data"),
            "owner_name": "the-owner",
            "warm_up_delay": 0.0,
        },
    }


async def test_token_requests_are_the_owner(jp_fetch):
    import json

    r = await jp_fetch(
        "oui",
        "api",
        "v1",
        "chats",
        "new",
        method="POST",
        body=json.dumps({"chat": {"title": "mine"}}),
    )
    chat = json.loads(r.body)
    assert chat["user_id"] == "the-owner"
    r = await jp_fetch("oui", "api", "v1", "chats", chat["id"])
    assert json.loads(r.body)["title"] == "mine"
    me = json.loads((await jp_fetch("oui", "api", "v1", "users", "user")).body)
    assert me["id"] == "the-owner" and me["role"] == "admin"
