"""The prompt library over REST (Open WebUI's ``v1/prompts`` routes and shapes), on SQLite and
PostgreSQL: commands, ``{{variables}}`` kept, access control through hub groups
(``tests/support/identity.py``: dave in physics, erin in chemistry and physics, frank in
chemistry), bad input 4xx."""

from __future__ import annotations

from typing import Any

import pytest
from support.acl import team_settings

pytestmark = pytest.mark.storage

CHEMISTRY = {"read": {"group_ids": ["chemistry"], "user_ids": []}}


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return team_settings(scripted_openai.base_url)


def form(command: str, content: str = "Summarise {{topic}} for {{ audience }}", **extra: Any):
    return {"command": command, "title": f"Title of {command}", "content": content, **extra}


async def commands(api: Any, user: str, path: str = "v1/prompts/") -> list[str]:
    r = await api("GET", path, user=user)
    assert r.code == 200, r.body
    return [p["command"] for p in r.json()]


async def test_create_read_update_delete_keep_variables_as_written(api):
    r = await api("POST", "v1/prompts/create", form("summarize"), user="dave")
    assert r.code == 200, r.body
    created = r.json()
    assert set(created) == {"command", "user_id", "title", "content", "timestamp", "access_control"}
    assert created["command"] == "/summarize" and created["user_id"] == "dave"
    assert created["content"] == "Summarise {{topic}} for {{ audience }}"
    assert created["access_control"] == {} and isinstance(created["timestamp"], int)

    r = await api("GET", "v1/prompts/command/summarize", user="dave")
    assert r.code == 200 and r.json() == created

    r = await api(
        "POST",
        "v1/prompts/command/summarize/update",
        form("/summarize", "Now {{x}}", title="Renamed"),
        user="dave",
    )
    assert r.code == 200, r.body
    assert r.json()["content"] == "Now {{x}}" and r.json()["title"] == "Renamed"
    r = await api("GET", "v1/prompts/list", user="dave")
    mine = r.json()
    assert [p["command"] for p in mine] == ["/summarize"]
    assert mine[0]["user"]["id"] == "dave"

    r = await api("DELETE", "v1/prompts/command/summarize/delete", user="dave")
    assert r.code == 200 and r.json() is True
    assert (await api("GET", "v1/prompts/command/summarize", user="dave")).code == 404
    assert await commands(api, "dave") == []


async def test_a_private_prompt_is_404_and_unlisted_for_others(api):
    assert (await api("POST", "v1/prompts/create", form("secret"), user="dave")).code == 200
    for other in ("frank", "erin", "alice"):
        assert (await api("GET", "v1/prompts/command/secret", user=other)).code == 404
        assert "/secret" not in await commands(api, other)
        r = await api("POST", "v1/prompts/command/secret/update", form("secret"), user=other)
        assert r.code == 404
        assert (await api("DELETE", "v1/prompts/command/secret/delete", user=other)).code == 404
    assert (await api("GET", "v1/prompts/command/secret", user="dave")).code == 200


async def test_a_prompt_shared_with_a_group_is_read_by_its_members_only(api):
    body = form("lab-report", access_control=CHEMISTRY)
    r = await api("POST", "v1/prompts/create", body, user="dave")
    assert r.code == 200 and r.json()["access_control"] == CHEMISTRY
    for member in ("frank", "erin"):
        assert "/lab-report" in await commands(api, member)
        assert (await api("GET", "v1/prompts/command/lab-report", user=member)).code == 200
        assert "/lab-report" not in await commands(api, member, "v1/prompts/list")
        r = await api("POST", "v1/prompts/command/lab-report/update", body, user=member)
        assert r.code == 403  # read, not write
    assert "/lab-report" not in await commands(api, "alice")
    assert (await api("GET", "v1/prompts/command/lab-report", user="alice")).code == 404


async def test_null_access_is_everyones_and_a_write_grant_edits(api):
    body = form("everyone", access_control=None)
    assert (await api("POST", "v1/prompts/create", body, user="dave")).code == 200
    assert "/everyone" in await commands(api, "alice")
    write = {"write": {"group_ids": [], "user_ids": ["frank"]}}
    r = await api(
        "POST",
        "v1/prompts/command/everyone/update",
        form("everyone", **{"access_control": write}),
        user="dave",
    )
    assert r.code == 200, r.body
    r = await api(
        "POST",
        "v1/prompts/command/everyone/update",
        form("everyone", "by frank", access_control=write),
        user="frank",
    )
    assert r.code == 200 and r.json()["content"] == "by frank"
    assert "/everyone" in await commands(api, "frank", "v1/prompts/list")
    # a write grant changes the text, not who sees it, and does not delete
    r = await api(
        "POST",
        "v1/prompts/command/everyone/update",
        form("everyone", access_control=None),
        user="frank",
    )
    assert r.code == 403
    assert (await api("DELETE", "v1/prompts/command/everyone/delete", user="frank")).code == 403
    assert "/everyone" not in await commands(api, "alice")  # the write rule replaced null


@pytest.mark.parametrize(
    "body",
    [
        {"command": "Bad Command", "title": "t", "content": "c"},
        {"command": "../etc", "title": "t", "content": "c"},
        {"command": "", "title": "t", "content": "c"},
        {"command": "ok", "title": "", "content": "c"},
        {"command": "ok", "title": "t"},
        {"command": "ok", "title": "t", "content": 3},
        {"command": "ok", "title": "t", "content": "c", "access_control": {"read": "all"}},
        {"command": "ok", "title": "t", "content": "c", "access_control": {"admin": {}}},
        {"command": "x" * 65, "title": "t", "content": "c"},
    ],
)
async def test_bad_input_is_422(api, body):
    r = await api("POST", "v1/prompts/create", body, user="dave")
    assert r.code == 422, r.body
    assert "message" in r.json()


async def test_malformed_body_taken_command_and_changed_command(api):
    r = await api("POST", "v1/prompts/create", raw=b"{not json", user="dave")
    assert r.code == 400
    assert (await api("POST", "v1/prompts/create", form("/taken"), user="dave")).code == 200
    r = await api("POST", "v1/prompts/create", form("taken"), user="frank")
    assert r.code == 409 and "taken" in r.json()["message"]
    r = await api("POST", "v1/prompts/command/taken/update", form("other"), user="dave")
    assert r.code == 422
    assert (await api("GET", "v1/prompts/command/NotASlug", user="dave")).code == 404
    assert (await api("GET", "v1/prompts/command/nothing", user="dave")).code == 404
