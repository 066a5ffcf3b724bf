"""Sharing a chat with the team: a snapshot by link, readable and clonable by any user."""

from __future__ import annotations

from typing import Any

import pytest
from support.acl import new_chat, team_settings

pytestmark = pytest.mark.storage


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return team_settings(scripted_openai.base_url)


async def turn(api: Any, chat_id: str, text: str, user: str = "alice") -> dict[str, Any]:
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": text}, user=user)
    assert r.code == 200, r.body
    return r.json()


def contents(chat: dict[str, Any]) -> list[str]:
    return [m["content"] for m in chat["chat"]["messages"]]


async def test_a_share_is_a_snapshot_any_user_reads_and_clones(api):
    chat_id = await new_chat(api, "alice")
    await turn(api, chat_id, "first question")
    r = await api("POST", f"v1/chats/{chat_id}/share")
    assert r.code == 200, r.body
    share_id = r.json()["share_id"]
    assert share_id and r.json()["id"] == chat_id

    for reader in ("bob", "dave", "carol"):
        r = await api("GET", f"v1/chats/share/{share_id}", user=reader)
        assert r.code == 200
        shared = r.json()
        assert shared["user_id"] == "alice" and shared["share_id"] == share_id
        assert contents(shared)[0] == "first question" and len(contents(shared)) == 2

    # The chat goes on; the link shows what was shared until alice shares again.
    await turn(api, chat_id, "second question")
    r = await api("GET", f"v1/chats/share/{share_id}", user="bob")
    assert len(contents(r.json())) == 2
    r = await api("POST", f"v1/chats/{chat_id}/share")
    assert r.json()["share_id"] == share_id  # the same link
    r = await api("GET", f"v1/chats/share/{share_id}", user="bob")
    assert contents(r.json())[2] == "second question" and len(contents(r.json())) == 4

    # bob clones it: a chat of his own with the messages; alice's is untouched.
    r = await api("POST", f"v1/chats/share/{share_id}/clone", user="bob")
    assert r.code == 200, r.body
    clone = r.json()
    assert clone["id"] != chat_id and clone["user_id"] == "bob"
    assert clone["title"].startswith("Clone of") and clone["share_id"] is None
    assert contents(clone) == contents((await api("GET", f"v1/chats/{chat_id}")).json())
    assert clone["id"] in [c["id"] for c in (await api("GET", "v1/chats/", user="bob")).json()]
    await turn(api, clone["id"], "bob goes on", user="bob")
    r = await api("GET", f"v1/chats/{clone['id']}", user="bob")
    assert contents(r.json())[4] == "bob goes on"
    alices = (await api("GET", f"v1/chats/{chat_id}")).json()
    assert len(contents(alices)) == 4 and alices["user_id"] == "alice"
    assert clone["id"] not in [c["id"] for c in (await api("GET", "v1/chats/")).json()]
    assert (await api("GET", f"v1/chats/{clone['id']}")).code == 404  # bob's, not alice's
    # Another clone, by another user, is another chat.
    r = await api("POST", f"v1/chats/share/{share_id}/clone", user="dave")
    assert r.code == 200 and r.json()["id"] != clone["id"] and r.json()["user_id"] == "dave"

    # Only alice may share or unshare her chat; unsharing ends the link, not the clones.
    assert (await api("POST", f"v1/chats/{chat_id}/share", user="bob")).code == 404
    assert (await api("DELETE", f"v1/chats/{chat_id}/share", user="bob")).code == 404
    assert (await api("GET", f"v1/chats/share/{share_id}", user="bob")).code == 200
    assert (await api("DELETE", f"v1/chats/{chat_id}/share")).code == 200
    assert (await api("GET", f"v1/chats/share/{share_id}", user="bob")).code == 404
    assert (await api("POST", f"v1/chats/share/{share_id}/clone", user="bob")).code == 404
    assert (await api("GET", f"v1/chats/{clone['id']}", user="bob")).code == 200
    assert (await api("GET", f"v1/chats/{chat_id}")).json()["share_id"] is None


async def test_unknown_share_ids_and_deleted_chats(api):
    assert (await api("GET", "v1/chats/share/no-such-share", user="bob")).code == 404
    assert (await api("POST", "v1/chats/share/no-such-share/clone", user="bob")).code == 404
    chat_id = await new_chat(api, "alice")
    await turn(api, chat_id, "soon gone")
    share_id = (await api("POST", f"v1/chats/{chat_id}/share")).json()["share_id"]
    assert (await api("DELETE", f"v1/chats/{chat_id}")).code == 200
    assert (await api("GET", f"v1/chats/share/{share_id}", user="bob")).code == 404
