"""Open WebUI's ``access_control`` on custom models and knowledge collections, through a real
server: hub groups (``tests/support/identity.py``: dave in physics, erin in chemistry and
physics, frank in chemistry, carol a hub admin) decide who sees and uses what."""

from __future__ import annotations

from typing import Any

import pytest
from support.acl import ask, new_chat, team_settings, upload

pytestmark = pytest.mark.storage

PHYSICS_ONLY = {"read": {"group_ids": ["physics"], "user_ids": []}}


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return team_settings(scripted_openai.base_url)


async def listed(api: Any, user: str) -> set[str]:
    r = await api("GET", "models", user=user)
    assert r.code == 200, r.body
    return {m["id"] for m in r.json()["data"]}


async def custom_listed(api: Any, user: str) -> set[str]:
    r = await api("GET", "v1/models/", user=user)
    assert r.code == 200, r.body
    return {m["id"] for m in r.json()}


async def test_a_group_model_is_invisible_and_refused_for_non_members(api, scripted_openai):
    form = {
        "id": "physics-tutor",
        "name": "Physics tutor",
        "base_model_id": "fast",
        "params": {"system": "You teach physics."},
        "access_control": PHYSICS_ONLY,
    }
    r = await api("POST", "v1/models/create", form, user="carol")
    assert r.code == 200, r.body
    assert r.json()["access_control"] == PHYSICS_ONLY

    for member in ("dave", "erin"):  # physics, and physics among others
        assert "physics-tutor" in await listed(api, member)
        assert "physics-tutor" in await custom_listed(api, member)
        r = await api("GET", "v1/models/model", params={"id": "physics-tutor"}, user=member)
        assert r.code == 200
    for stranger in ("frank", "alice", "bob"):  # another group, no groups
        assert "physics-tutor" not in await listed(api, stranger)
        assert "physics-tutor" not in await custom_listed(api, stranger)
        r = await api("GET", "v1/models/model", params={"id": "physics-tutor"}, user=stranger)
        assert r.code == 404
    assert "physics-tutor" in await listed(api, "carol")  # the owner (an admin too)

    # Calling it: refused as if it did not exist, on every completion path.
    sent = len(scripted_openai.requests)
    r = await api("POST", "chat/completions", ask("physics-tutor"), user="frank")
    assert r.code == 404 and "physics-tutor" in r.json()["message"]
    r = await api("POST", "chat/completions", ask("physics-tutor", stream=True), user="frank")
    assert r.code == 404
    chat_id = await new_chat(api, "frank")
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "hi", "model": "physics-tutor"},
        user="frank",
    )
    assert r.code == 404
    r = await api(
        "POST", "chat/completions", {**ask("physics-tutor"), "chat_id": chat_id}, user="frank"
    )
    assert r.code == 404
    assert len(scripted_openai.requests) == sent  # nothing reached the upstream
    r = await api(
        "POST", "v1/models/model/update", form, params={"id": "physics-tutor"}, user="frank"
    )
    assert r.code == 404  # not even told it exists

    # A member uses it: the custom model's system prompt reaches the upstream.
    r = await api("POST", "chat/completions", ask("physics-tutor"), user="dave")
    assert r.code == 200, r.body
    assert r.json()["choices"][0]["message"]["content"].startswith("tok0")
    assert scripted_openai.requests[-1]["messages"][0] == {
        "role": "system",
        "content": "You teach physics.",
    }
    chat_id = await new_chat(api, "erin")
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": "hi", "model": "physics-tutor"},
        user="erin",
    )
    assert r.code == 200 and r.json()["model"] == "physics-tutor"
    # Members may read, not change it.
    r = await api(
        "POST",
        "v1/models/model/update",
        {**form, "name": "Mine"},
        params={"id": "physics-tutor"},
        user="dave",
    )
    assert r.code == 403


async def test_write_grants_edit_but_only_the_owner_shares(api):
    form = {
        "id": "lab-helper",
        "name": "Lab helper",
        "base_model_id": "fast",
        "access_control": {"write": {"user_ids": ["frank"]}},
    }
    assert (await api("POST", "v1/models/create", form, user="dave")).code == 200
    assert "lab-helper" in await listed(api, "frank")  # a write grant reads too
    assert "lab-helper" not in await listed(api, "erin")
    r = await api(
        "POST",
        "v1/models/model/update",
        {**form, "name": "Lab helper 2"},
        params={"id": "lab-helper"},
        user="frank",
    )
    assert r.code == 200 and r.json()["name"] == "Lab helper 2"
    r = await api(
        "POST",
        "v1/models/model/update",
        {**form, "access_control": None},
        params={"id": "lab-helper"},
        user="frank",
    )
    assert r.code == 403  # making it everyone's is the owner's call
    r = await api("DELETE", "v1/models/model/delete", params={"id": "lab-helper"}, user="frank")
    assert r.code == 403  # and so is deleting it
    r = await api(
        "POST",
        "v1/models/model/update",
        {**form, "access_control": {}},
        params={"id": "lab-helper"},
        user="dave",
    )
    assert r.code == 200 and r.json()["access_control"] == {}
    assert "lab-helper" not in await listed(api, "frank")  # {}: the owner's only
    assert "lab-helper" in await listed(api, "carol")  # admins see everything


async def test_a_collection_shared_with_a_group(api, scripted_openai):
    text = "The cryostat holds the sample at four kelvin during the quench run."
    file_id = await upload(api, "dave", "cryostat.txt", text)
    r = await api("POST", "v1/knowledge/create", {"name": "Cryo lab"}, user="dave")
    assert r.code == 200
    kid = r.json()["id"]
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"file_id": file_id}, user="dave")
    assert r.code == 200
    query = {"collection_names": [kid], "query": "cryostat kelvin quench", "mode": "keyword"}
    turn = ask("fast", "cryostat kelvin quench?", files=[{"type": "collection", "id": kid}])

    async def reach(user: str) -> list[int]:
        listed_ids = [k["id"] for k in (await api("GET", "v1/knowledge/", user=user)).json()]
        return [
            200 if kid in listed_ids else 404,
            (await api("GET", f"v1/knowledge/{kid}", user=user)).code,
            (await api("POST", "v1/retrieval/query/collection", query, user=user)).code,
            (await api("GET", f"v1/files/{file_id}", user=user)).code,
            (await api("POST", "chat/completions", turn, user=user)).code,
        ]

    assert await reach("frank") == [404] * 5  # private until shared
    # Share with chemistry: its read grant.
    r = await api(
        "POST",
        f"v1/knowledge/{kid}/update",
        {"access_control": {"read": {"group_ids": ["chemistry"]}}},
        user="dave",
    )
    assert r.code == 200, r.body
    assert r.json()["access_control"] == {"read": {"group_ids": ["chemistry"], "user_ids": []}}
    for member in ("frank", "erin"):
        assert await reach(member) == [200] * 5
        r = await api("POST", "v1/retrieval/query/collection", query, user=member)
        assert "cryostat" in r.json()["documents"][0][0]
        assert "four kelvin" in scripted_openai.requests[-1]["messages"][-1]["content"]
    for stranger in ("alice", "bob"):
        assert await reach(stranger) == [404] * 5
    # Read only: no changes, no new files, no re-sharing.
    frank_file = await upload(api, "frank", "notes.txt", "Frank's own notes on titration.")
    assert (
        await api("POST", f"v1/knowledge/{kid}/update", {"name": "Frank's"}, user="frank")
    ).code == 403
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"file_id": frank_file}, user="frank")
    assert r.code == 403
    # A write grant: frank may rename it and add his file, not change who has access.
    r = await api(
        "POST",
        f"v1/knowledge/{kid}/update",
        {
            "access_control": {
                "read": {"group_ids": ["chemistry"]},
                "write": {"user_ids": ["frank"]},
            }
        },
        user="dave",
    )
    assert r.code == 200
    r = await api("POST", f"v1/knowledge/{kid}/update", {"name": "Cryo + titration"}, user="frank")
    assert r.code == 200 and r.json()["name"] == "Cryo + titration"
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"file_id": frank_file}, user="frank")
    assert r.code == 200 and r.json()["data"]["file_ids"] == [file_id, frank_file]
    r = await api("POST", f"v1/knowledge/{kid}/update", {"shared": True}, user="frank")
    assert r.code == 403
    r = await api("POST", f"v1/knowledge/{kid}/update", {"access_control": {}}, user="frank")
    assert r.code == 403
    assert (await api("DELETE", f"v1/knowledge/{kid}/delete", user="frank")).code == 403
    # Back to private: the grant is gone.
    r = await api("POST", f"v1/knowledge/{kid}/update", {"access_control": {}}, user="dave")
    assert r.code == 200
    assert await reach("erin") == [404] * 5


async def test_bob_cannot_reach_alices_chats_files_or_collections(api):
    chat_id = await new_chat(api, "alice")
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "zebra secret"})
    assert r.code == 200
    file_id = await upload(api, "alice", "alice.txt", "Alice keeps the zebra ledger here.")
    r = await api(
        "POST", "v1/knowledge/create", {"name": "Alice's", "data": {"file_ids": [file_id]}}
    )
    assert r.code == 200
    kid = r.json()["id"]

    assert chat_id not in [c["id"] for c in (await api("GET", "v1/chats/", user="bob")).json()]
    r = await api("GET", "v1/chats/search", params={"text": "zebra"}, user="bob")
    assert r.code == 200 and r.json() == []
    assert (await api("GET", f"v1/chats/{chat_id}", user="bob")).code == 404
    assert (await api("POST", f"v1/chats/{chat_id}/share", user="bob")).code == 404
    assert (await api("POST", f"v1/chats/{chat_id}/clone", user="bob")).code == 404
    assert (await api("GET", f"v1/chats/{chat_id}/export", user="bob")).code == 404
    r = await api(
        "POST", f"v1/chats/{chat_id}/message", {"content": "x", "model": "fast"}, user="bob"
    )
    assert r.code == 404
    assert file_id not in [f["id"] for f in (await api("GET", "v1/files/", user="bob")).json()]
    assert (await api("GET", f"v1/files/{file_id}", user="bob")).code == 404
    assert (await api("GET", f"v1/files/{file_id}/content", user="bob")).code == 404
    assert kid not in [k["id"] for k in (await api("GET", "v1/knowledge/", user="bob")).json()]
    assert (await api("GET", f"v1/knowledge/{kid}", user="bob")).code == 404
    for names in ([kid], [f"file-{file_id}"]):
        r = await api(
            "POST",
            "v1/retrieval/query/collection",
            {"collection_names": names, "query": "zebra ledger", "mode": "keyword"},
            user="bob",
        )
        assert r.code == 404
    # ...while alice still has all of it.
    assert (await api("GET", f"v1/chats/{chat_id}")).code == 200
    assert (await api("GET", f"v1/knowledge/{kid}")).code == 200
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": [kid], "query": "zebra ledger", "mode": "keyword"},
    )
    assert r.code == 200 and "zebra" in r.json()["documents"][0][0]


async def test_a_collection_is_everyones_with_open_webuis_null(api):
    """``access_control: null`` sent is everyone on the team (``shared``); left out, the
    collection is its owner's, read back as ``{}``; an object makes it not everyone's."""
    r = await api("POST", "v1/knowledge/create", {"name": "Mine"}, user="dave")
    mine = r.json()
    assert (mine["access_control"], mine["shared"]) == ({}, False)
    r = await api(
        "POST", "v1/knowledge/create", {"name": "Team", "access_control": None}, user="dave"
    )
    team = r.json()
    assert (team["access_control"], team["shared"]) == (None, True)
    seen = [k["id"] for k in (await api("GET", "v1/knowledge/", user="frank")).json()]
    assert team["id"] in seen and mine["id"] not in seen

    grant = {"access_control": {"write": {"user_ids": ["frank"]}}}
    r = await api("POST", f"v1/knowledge/{mine['id']}/update", grant, user="dave")
    assert r.code == 200, r.body
    everyone = {"access_control": None}
    r = await api("POST", f"v1/knowledge/{mine['id']}/update", everyone, user="frank")
    assert r.code == 403  # making it everyone's is the owner's call
    r = await api("POST", f"v1/knowledge/{mine['id']}/update", everyone, user="dave")
    assert r.code == 200 and (r.json()["access_control"], r.json()["shared"]) == (None, True)
    assert mine["id"] in [k["id"] for k in (await api("GET", "v1/knowledge/", user="erin")).json()]
    r = await api("POST", f"v1/knowledge/{mine['id']}/update", {"access_control": {}}, user="dave")
    assert r.code == 200 and (r.json()["access_control"], r.json()["shared"]) == ({}, False)
    assert (await api("GET", f"v1/knowledge/{mine['id']}", user="erin")).code == 404


BAD_ACCESS_CONTROL = [
    {"read": []},
    {"admin": {}},
    {"read": {"group_ids": "physics"}},
    {"read": {"group_ids": [1]}},
    {"read": {"group_ids": [""]}},
    {"read": {"user_ids": ["x" * 256]}},
    {"read": {"group_ids": [f"g{i}" for i in range(1001)]}},
    {"write": {"roles": ["admin"]}},
    "public",
    ["physics"],
]


async def test_bad_access_control_is_422_and_nothing_is_stored(api):
    r = await api("POST", "v1/knowledge/create", {"name": "Target"}, user="dave")
    kid = r.json()["id"]
    form = {"id": "target", "name": "Target", "base_model_id": "fast"}
    assert (await api("POST", "v1/models/create", form, user="dave")).code == 200
    for bad in BAD_ACCESS_CONTROL:
        calls = [
            ("v1/models/create", {**form, "id": "other", "access_control": bad}, None),
            ("v1/models/model/update", {**form, "access_control": bad}, {"id": "target"}),
            ("v1/knowledge/create", {"name": "Other", "access_control": bad}, None),
            (f"v1/knowledge/{kid}/update", {"access_control": bad}, None),
        ]
        for path, body, params in calls:
            r = await api("POST", path, body, params=params, user="dave")
            assert r.code == 422, (path, bad, r.code, r.body)
            assert "access_control" in r.json()["message"], r.body
    assert "other" not in await custom_listed(api, "dave")
    names = [k["name"] for k in (await api("GET", "v1/knowledge/", user="dave")).json()]
    assert names == ["Target"]
    r = await api("GET", "v1/models/model", params={"id": "target"}, user="dave")
    assert r.json()["access_control"] is None
