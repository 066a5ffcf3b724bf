"""One user never sees another's data, through the hub: alice and bob each on their own server
(team client mode), requests through the hub's proxy with tokens the hub issued. Bob cannot
list, read, search or share alice's chats, files or collections (404); a chat alice shares is
readable from bob's server by its link and he can clone it; a model restricted to a group is
invisible and refused for those outside it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.acl import multipart
from support.hub import HUB_ADMIN, Hub

SECRET = "Alice keeps the zebra ledger in the blue drawer."


@pytest.fixture(scope="module")
def team(hub: Hub) -> Hub:
    # Groups first: the service keeps what it read of a user's groups for a while.
    hub.add_group("physics", "bob")
    for user in ("alice", "bob"):
        hub.spawn(user)
    return hub


def upload(hub: Hub, user: str, filename: str, text: str) -> str:
    body, headers = multipart(filename, text.encode())
    r = hub.user_api(user, "v1/files/", "POST", body, headers=headers)
    assert r.status == 200, r.text
    file_id = str(r.json()["id"])
    deadline = time.monotonic() + 60
    while True:
        status = hub.user_api(user, f"v1/files/{file_id}/process/status").json()
        if status["status"] != "pending":
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["status"] == "completed", status
    return file_id


def keyword_query(hub: Hub, user: str, names: list[str]) -> Any:
    return hub.user_api(
        user,
        "v1/retrieval/query/collection",
        "POST",
        {"collection_names": names, "query": "zebra ledger", "mode": "keyword"},
    )


def test_bob_cannot_reach_alices_chats_files_or_collections(team: Hub) -> None:
    hub = team
    made = hub.user_api("alice", "v1/chats/new", "POST", {"chat": {"title": "zebra plans"}})
    assert made.status == 200, made.text
    chat_id = made.json()["id"]
    file_id = upload(hub, "alice", "ledger.txt", SECRET)
    kb = hub.user_api(
        "alice", "v1/knowledge/create", "POST", {"name": "Alice's", "data": {"file_ids": [file_id]}}
    )
    assert kb.status == 200, kb.text
    kid = kb.json()["id"]

    # bob, from his own server
    listed = hub.user_api("bob", "v1/chats/")
    assert listed.status == 200 and chat_id not in [c["id"] for c in listed.json()]
    found = hub.user_api("bob", "v1/chats/search?text=zebra")
    assert found.status == 200 and found.json() == []
    for method, route in [
        ("GET", f"v1/chats/{chat_id}"),
        ("POST", f"v1/chats/{chat_id}/share"),
        ("POST", f"v1/chats/{chat_id}/clone"),
        ("GET", f"v1/files/{file_id}"),
        ("GET", f"v1/files/{file_id}/content"),
        ("GET", f"v1/knowledge/{kid}"),
    ]:
        answer = hub.user_api("bob", route, method)
        assert answer.status == 404, (route, answer.status, answer.text)
        assert "zebra" not in answer.text
    assert file_id not in [f["id"] for f in hub.user_api("bob", "v1/files/").json()]
    assert kid not in [k["id"] for k in hub.user_api("bob", "v1/knowledge/").json()]
    for names in ([kid], [f"file-{file_id}"]):
        answer = keyword_query(hub, "bob", names)
        assert answer.status == 404, answer.text
    # nor with the team service directly, with a token the hub gave him
    assert hub.service_api("bob", f"v1/chats/{chat_id}").status == 404

    # ...while alice has all of it, from her server
    assert hub.user_api("alice", f"v1/chats/{chat_id}").status == 200
    mine = keyword_query(hub, "alice", [kid])
    assert mine.status == 200 and "zebra" in mine.json()["documents"][0][0]


def test_a_shared_chat_opens_from_bobs_server_and_he_clones_it(team: Hub) -> None:
    hub = team
    made = hub.user_api("alice", "v1/chats/new", "POST", {"chat": {"title": "To share"}})
    chat_id = made.json()["id"]
    turn = hub.user_api(
        "alice", f"v1/chats/{chat_id}/message", "POST", {"content": "Hi team", "model": "fast"}
    )
    assert turn.status == 200, turn.text
    shared = hub.user_api("alice", f"v1/chats/{chat_id}/share", "POST")
    assert shared.status == 200, shared.text
    share_id = shared.json()["share_id"]

    snapshot = hub.user_api("bob", f"v1/chats/share/{share_id}")
    assert snapshot.status == 200, snapshot.text
    messages = snapshot.json()["chat"]["messages"]
    assert messages[0]["content"] == "Hi team" and len(messages) == 2
    clone = hub.user_api("bob", f"v1/chats/share/{share_id}/clone", "POST")
    assert clone.status == 200, clone.text
    bobs = clone.json()["id"]
    assert bobs != chat_id
    assert bobs in [c["id"] for c in hub.user_api("bob", "v1/chats/").json()]
    # alice's own chat is untouched and still hers only
    assert hub.user_api("bob", f"v1/chats/{chat_id}").status == 404
    assert hub.user_api("alice", f"v1/chats/{chat_id}").json()["title"] == "To share"


def test_a_group_model_is_invisible_and_refused_outside_the_group(team: Hub) -> None:
    hub = team
    form = {
        "id": "physics-tutor",
        "name": "Physics tutor",
        "base_model_id": "fast",
        "params": {"system": "You teach physics."},
        "access_control": {"read": {"group_ids": ["physics"], "user_ids": []}},
    }
    made = hub.service_api(HUB_ADMIN, "v1/models/create", "POST", form)
    assert made.status == 200, made.text

    def listed(user: str) -> list[str]:
        answer = hub.user_api(user, "models")
        assert answer.status == 200, answer.text
        return [m["id"] for m in answer.json()["data"]]

    ask = {
        "model": "physics-tutor",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
    }
    assert "physics-tutor" in listed("bob")
    assert hub.user_api("bob", "chat/completions", "POST", ask).status == 200
    assert "physics-tutor" not in listed("alice")
    refused = hub.user_api("alice", "chat/completions", "POST", ask)
    assert refused.status == 404, refused.text
    refused = hub.user_api("alice", "chat/completions", "POST", {**ask, "stream": True})
    assert refused.status == 404, refused.text
