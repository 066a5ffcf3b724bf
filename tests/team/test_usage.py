"""Usage records (every completion path), the admins' report and per-group daily limits."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from support.acl import ask, new_chat, team_settings, usage_rows, usage_rows_when

pytestmark = pytest.mark.storage

LIMIT_MESSAGE = re.compile(
    r"^Daily token limit of (\d+) for group '(\w+)' reached; it resets at 00:00 UTC "
    r"\(in (\d+)h (\d+)m\)$"
)


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    # The traitlet's default limit: frank's chemistry may use 1 token a day.
    return team_settings(scripted_openai.base_url, group_daily_tokens={"chemistry": 1})


async def test_every_completion_path_records_the_upstreams_tokens(api, jp_serverapp):
    chat_id = await new_chat(api, "dave")
    # The scripted upstream reports prompt_tokens 5 and completion_tokens = x_chunks.
    paths: list[tuple[str, dict[str, Any], str | None]] = [
        ("chat/completions", ask("fast", x_chunks=1), None),
        ("chat/completions", ask("fast", stream=True, x_chunks=2), None),
        ("chat/completions", {**ask("fast", x_chunks=3), "chat_id": chat_id}, chat_id),
        (
            "chat/completions",
            {**ask("fast", stream=True, x_chunks=4), "chat_id": chat_id},
            chat_id,
        ),
        (f"v1/chats/{chat_id}/message", {"content": "hi", "params": {"x_chunks": 5}}, chat_id),
        (
            f"v1/chats/{chat_id}/message",
            {"content": "hi", "stream": True, "params": {"x_chunks": 6}},
            chat_id,
        ),
    ]
    before = time.time()
    for count, (path, body, expected_chat) in enumerate(paths, start=1):
        r = await api("POST", path, body, user="dave")
        assert r.code == 200, (path, r.body)
        rows = await usage_rows_when(jp_serverapp, count)
        assert len(rows) == count  # one row per turn
        row = rows[-1]
        assert row == {
            "user_id": "dave",
            "model": "fast",
            "chat_id": expected_chat,
            "prompt_tokens": 5,
            "completion_tokens": count,
            "estimated": False,
            "created_at": row["created_at"],
        }, path
        assert before <= row["created_at"] <= time.time()
    # Live mode (session_id): the turn runs as a task and is recorded at its end too.
    r = await api(
        "POST",
        "chat/completions",
        {**ask("fast", x_chunks=7), "chat_id": chat_id, "session_id": "s1", "id": "live-answer"},
        user="dave",
    )
    assert r.code == 200, r.body
    rows = await usage_rows_when(jp_serverapp, 7)
    assert rows[-1]["completion_tokens"] == 7 and rows[-1]["chat_id"] == chat_id


async def test_streams_ask_the_upstream_for_usage(api, scripted_openai):
    r = await api("POST", "chat/completions", ask("fast", stream=True), user="dave")
    assert r.code == 200
    assert scripted_openai.requests[-1]["stream_options"] == {"include_usage": True}
    r = await api(
        "POST",
        "chat/completions",
        ask("fast", stream=True, stream_options={"include_usage": False}),
        user="dave",
    )
    assert scripted_openai.requests[-1]["stream_options"] == {"include_usage": False}


async def test_a_turn_without_upstream_usage_is_estimated(api, jp_serverapp):
    # "cut" drops the stream after three deltas: no usage reported.
    r = await api("POST", "chat/completions", ask("cut", "x" * 40, stream=True), user="dave")
    assert r.code == 200
    (row,) = await usage_rows_when(jp_serverapp, 1)
    assert row["estimated"] is True and row["model"] == "cut"
    assert row["prompt_tokens"] == 10  # 40 characters: about 10 tokens
    assert row["completion_tokens"] == 4  # "tok0 tok1 tok2 ": 15 characters
    # A refused or failed turn before any answer records nothing.
    assert (await api("POST", "chat/completions", ask("error500"), user="dave")).code == 502
    assert (await api("POST", "chat/completions", ask("nope"), user="dave")).code == 404
    await asyncio.sleep(0.2)
    assert len(await asyncio.to_thread(usage_rows, jp_serverapp)) == 1


async def test_the_usage_report_for_admins(api, jp_serverapp):
    for user, chunks in (("dave", 1), ("dave", 2), ("alice", 3)):
        r = await api("POST", "chat/completions", ask("fast", x_chunks=chunks), user=user)
        assert r.code == 200
    r = await api("POST", "chat/completions", ask("slow", x_chunks=4), user="alice")
    assert r.code == 200
    await usage_rows_when(jp_serverapp, 4)

    r = await api("GET", "v1/usage", params={"group_by": "user"}, user="carol")
    assert r.code == 200, r.body
    body = r.json()
    assert body["group_by"] == "user" and body["since"] == 0
    assert body["data"] == [
        {
            "user": "alice",
            "requests": 2,
            "prompt_tokens": 10,
            "completion_tokens": 7,
            "total_tokens": 17,
            "estimated_requests": 0,
        },
        {
            "user": "dave",
            "requests": 2,
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "total_tokens": 13,
            "estimated_requests": 0,
        },
    ]
    r = await api("GET", "v1/usage", params={"group_by": "model"}, user="carol")
    by_model = {row["model"]: row for row in r.json()["data"]}
    assert by_model["fast"]["requests"] == 3 and by_model["fast"]["completion_tokens"] == 6
    assert by_model["slow"]["total_tokens"] == 9 and "user" not in by_model["slow"]
    # since: Unix seconds or ISO 8601
    future = time.time() + 3600
    r = await api("GET", "v1/usage", params={"since": str(future)}, user="carol")
    assert r.json()["data"] == []
    r = await api("GET", "v1/usage", params={"since": "2020-01-01T00:00:00Z"}, user="carol")
    assert sum(row["requests"] for row in r.json()["data"]) == 4
    r = await api("GET", "v1/usage", params={"since": "2020-01-01"}, user="carol")
    assert r.json()["since"] == 1577836800
    for bad in ({"since": "yesterday"}, {"since": "-5"}, {"group_by": "chat"}):
        assert (await api("GET", "v1/usage", params=bad, user="carol")).code == 422, bad
    for plain in ("dave", "alice"):
        assert (await api("GET", "v1/usage", user=plain)).code == 403


async def test_admins_list_users_and_groups(api):
    for user in ("dave", "erin", "alice"):
        assert (await api("GET", "v1/users/user", user=user)).code == 200
    r = await api("GET", "v1/users/", user="carol")
    assert r.code == 200, r.body
    users = {u["id"]: u for u in r.json()}
    assert users["dave"]["groups"] == ["physics"] and users["dave"]["role"] == "user"
    assert users["carol"]["role"] == "admin" and users["alice"]["groups"] == []
    assert users["erin"]["last_active_at"] >= users["erin"]["created_at"] > 0
    r = await api("GET", "v1/groups/", user="carol")
    assert r.code == 200
    groups = {g["name"]: g for g in r.json()}
    assert groups["physics"]["members"] == ["dave", "erin"]
    assert groups["chemistry"] == {
        "id": "chemistry",
        "name": "chemistry",
        "members": ["erin"],
        "user_ids": ["erin"],
        "member_count": 1,
    }
    for plain in ("dave", "bob"):
        assert (await api("GET", "v1/users/", user=plain)).code == 403
        assert (await api("GET", "v1/groups/", user=plain)).code == 403


async def test_daily_group_limits_answer_429_until_midnight_utc(api, jp_serverapp):
    # The traitlet's default is in force until an admin stores a setting.
    r = await api("GET", "v1/usage/limits", user="carol")
    assert r.code == 200 and r.json() == {"group_daily_tokens": {"chemistry": 1}}
    assert (await api("GET", "v1/usage/limits", user="dave")).code == 403
    assert (
        await api("POST", "v1/usage/limits", {"group_daily_tokens": {}}, user="dave")
    ).code == 403
    for bad in (
        {"group_daily_tokens": {"physics": -1}},
        {"group_daily_tokens": {"physics": "many"}},
        {"group_daily_tokens": {"physics": 1.5}},
        {"group_daily_tokens": ["physics"]},
        {"daily": {"physics": 1}},
    ):
        r = await api("POST", "v1/usage/limits", bad, user="carol")
        assert r.code == 422, (bad, r.body)
    r = await api(
        "POST",
        "v1/usage/limits",
        {"group_daily_tokens": {"physics": 20, "chemistry": 1000}},
        user="carol",
    )
    assert r.code == 200 and r.json() == {"group_daily_tokens": {"physics": 20, "chemistry": 1000}}

    # dave (physics): 13 tokens a turn (5 + 8); under 20 he may start a turn.
    chat_id = await new_chat(api, "dave")
    assert (await api("POST", "chat/completions", ask("fast"), user="dave")).code == 200
    await usage_rows_when(jp_serverapp, 1)
    r = await api("POST", f"v1/chats/{chat_id}/message", {"content": "hi"}, user="dave")
    assert r.code == 200
    await usage_rows_when(jp_serverapp, 2)
    refused = [
        await api("POST", "chat/completions", ask("fast"), user="dave"),
        await api("POST", "chat/completions", ask("fast", stream=True), user="dave"),
        await api("POST", f"v1/chats/{chat_id}/message", {"content": "more"}, user="dave"),
        await api(
            "POST",
            "chat/completions",
            {**ask("fast"), "chat_id": chat_id, "session_id": "s"},
            user="dave",
        ),
    ]
    now = time.time()
    midnight = (int(now // 86400) + 1) * 86400
    for r in refused:
        assert r.code == 429, r.body
        detail = r.json()["detail"]
        match = LIMIT_MESSAGE.match(detail)
        assert match, detail
        assert match.group(1, 2) == ("20", "physics")
        left = int(match.group(3)) * 3600 + int(match.group(4)) * 60
        assert 0 <= left - (midnight - now) <= 120
        assert r.json()["message"] == detail and r.json()["reason"] == "daily_token_limit"
        assert abs(int(r.headers["Retry-After"]) - (midnight - now)) <= 5
    assert len(await asyncio.to_thread(usage_rows, jp_serverapp)) == 2  # nothing ran
    chat = (await api("GET", f"v1/chats/{chat_id}", user="dave")).json()
    assert len(chat["chat"]["messages"]) == 2  # the refused turns stored nothing
    # erin is in physics too: her own tokens count, not dave's; bob has no limited group.
    assert (await api("POST", "chat/completions", ask("fast"), user="erin")).code == 200
    assert (await api("POST", "chat/completions", ask("fast"), user="bob")).code == 200
    # Raising the limit lets dave go on at once.
    r = await api("POST", "v1/usage/limits", {"group_daily_tokens": {"physics": 100}}, user="carol")
    assert r.json() == {"group_daily_tokens": {"physics": 100}}
    assert (await api("POST", "chat/completions", ask("fast"), user="dave")).code == 200


async def test_the_default_limit_applies_without_a_stored_setting(api, jp_serverapp):
    # frank (chemistry, 1 token a day by default): his first turn starts, the next is refused.
    assert (await api("POST", "chat/completions", ask("fast"), user="frank")).code == 200
    await usage_rows_when(jp_serverapp, 1)
    r = await api("POST", "chat/completions", ask("fast"), user="frank")
    assert r.code == 429 and "of 1 for group 'chemistry'" in r.json()["detail"]


async def test_last_activity_is_kept_fresh(api, monkeypatch):
    monkeypatch.setattr("oui_jupyter.services.users.ACTIVITY_INTERVAL", 0.5)
    assert (await api("GET", "v1/users/user", user="dave")).code == 200

    async def last_active() -> int:
        users = {u["id"]: u for u in (await api("GET", "v1/users/", user="carol")).json()}
        return int(users["dave"]["last_active_at"])

    first = await last_active()
    await asyncio.sleep(1.1)
    assert (await api("GET", "v1/chats/", user="dave")).code == 200
    assert await last_active() > first
