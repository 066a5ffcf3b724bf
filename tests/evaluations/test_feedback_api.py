"""Ratings over REST (Open WebUI's feedback routes), their annotation on the message and in the
exports, the admin routes, the arena and the leaderboard they feed; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from chat.helpers import frames_until, scripted_settings

pytestmark = pytest.mark.storage


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(
        scripted_openai.base_url,
        admin_users={"alice"},
        openai_api_configs={"0": {"model_ids": ["fast", "slow"]}},
        enable_evaluation_arena_models=True,
    )


@pytest.fixture
def ws_connect(jp_ws_fetch: Any) -> Any:
    async def connect(user: str = "alice") -> Any:
        return await jp_ws_fetch(
            "oui", "api", "events", headers={"Authorization": f"token {user}-token"}
        )

    return connect


async def answered_chat(api: Any, user: str = "alice", model: str = "fast") -> tuple[str, dict]:
    """A chat with one turn: its id and the assistant message."""
    r = await api(
        "POST", "v1/chats/new", {"chat": {"title": "Rated", "models": [model]}}, user=user
    )
    assert r.code == 200, r.body
    chat_id = r.json()["id"]
    r = await api(
        "POST", f"v1/chats/{chat_id}/message", {"content": "Hi", "model": model}, user=user
    )
    assert r.code == 200, r.body
    return chat_id, r.json()


def rating(
    chat_id: str, message_id: str, model: str = "fast", up: bool = True, **data: Any
) -> dict[str, Any]:
    return {
        "type": "rating",
        "data": {"rating": 1 if up else -1, "model_id": model, **data},
        "meta": {"chat_id": chat_id, "message_id": message_id},
    }


async def test_rate_an_answer_annotate_it_export_it_and_delete_it(api: Any) -> None:
    chat_id, answer = await answered_chat(api)
    body = rating(
        chat_id, answer["id"], reason="Accurate", comment="Spot on <b>x</b>", details={"rating": 8}
    )
    r = await api("POST", "v1/evaluations/feedback", body)
    assert r.code == 200, r.body
    feedback = r.json()
    assert feedback["user_id"] == "alice" and feedback["version"] == 0
    assert feedback["data"]["details"] == {"rating": 8} and feedback["meta"]["chat_id"] == chat_id
    message = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"][
        answer["id"]
    ]
    assert message["feedbackId"] == feedback["id"]
    assert message["annotation"] == {
        "rating": 1,
        "reason": "Accurate",
        "comment": "Spot on <b>x</b>",
        "details": {"rating": 8},
        "tags": None,
    }
    # Rated again (with or without the id): the same rating, updated.
    again = await api("POST", "v1/evaluations/feedback", rating(chat_id, answer["id"], up=False))
    assert again.code == 200 and again.json()["id"] == feedback["id"]
    assert again.json()["version"] == 1 and again.json()["data"]["rating"] == -1
    by_id = await api(
        "POST",
        f"v1/evaluations/feedback/{feedback['id']}",
        rating(chat_id, answer["id"], details={"rating": 9}, comment="Better on reflection"),
    )
    assert by_id.code == 200 and by_id.json()["version"] == 2
    mine = (await api("GET", "v1/evaluations/feedbacks/user")).json()
    assert [f["id"] for f in mine] == [feedback["id"]]
    assert (await api("GET", f"v1/evaluations/feedback/{feedback['id']}")).json()["data"][
        "comment"
    ] == "Better on reflection"
    # The exports carry it.
    exported = await api("GET", f"v1/chats/{chat_id}/export", params={"format": "json"})
    assert exported.code == 200, exported.body
    [chat] = json.loads(exported.body)
    exported_message = chat["chat"]["history"]["messages"][answer["id"]]
    assert exported_message["annotation"]["details"] == {"rating": 9}
    markdown = await api("GET", f"v1/chats/{chat_id}/export", params={"format": "markdown"})
    assert "Rated: \N{THUMBS UP SIGN} good \N{EM DASH} 9/10 \N{EM DASH} Better on reflection" in (
        markdown.body.decode()
    )
    notebook = await api("GET", f"v1/chats/{chat_id}/export", params={"format": "ipynb"})
    assert "9/10" in notebook.body.decode()
    # Deleted: gone from the list and from the message.
    r = await api("DELETE", f"v1/evaluations/feedback/{feedback['id']}")
    assert r.code == 200 and r.json() is True
    assert (await api("GET", "v1/evaluations/feedbacks/user")).json() == []
    message = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"][
        answer["id"]
    ]
    assert "annotation" not in message and "feedbackId" not in message
    assert (await api("GET", f"v1/evaluations/feedback/{feedback['id']}")).code == 404


async def test_only_ones_own_messages_and_ratings(api: Any) -> None:
    chat_id, answer = await answered_chat(api)
    r = await api("POST", "v1/evaluations/feedback", rating(chat_id, answer["id"]), user="bob")
    assert r.code == 404, r.body
    feedback = (await api("POST", "v1/evaluations/feedback", rating(chat_id, answer["id"]))).json()
    for method in ("GET", "DELETE"):
        r = await api(method, f"v1/evaluations/feedback/{feedback['id']}", user="bob")
        assert r.code == 404, (method, r.body)
    r = await api(
        "POST",
        f"v1/evaluations/feedback/{feedback['id']}",
        rating(chat_id, answer["id"]),
        user="bob",
    )
    assert r.code == 404
    assert (await api("GET", "v1/evaluations/feedbacks/user", user="bob")).json() == []
    # Admins read and delete everyone's; others may not.
    bob_chat, bob_answer = await answered_chat(api, user="bob")
    bob_feedback = await api(
        "POST", "v1/evaluations/feedback", rating(bob_chat, bob_answer["id"]), user="bob"
    )
    assert bob_feedback.code == 200
    assert (await api("GET", "v1/evaluations/feedbacks/all", user="bob")).code == 403
    assert (await api("DELETE", "v1/evaluations/feedbacks", user="bob")).code == 403
    everyone = (await api("GET", "v1/evaluations/feedbacks/all")).json()
    assert {(f["user_id"], f["user"]["name"]) for f in everyone} == {
        ("alice", "Alice"),
        ("bob", "Bob"),
    }
    assert (await api("GET", f"v1/evaluations/feedback/{bob_feedback.json()['id']}")).code == 200
    r = await api("DELETE", "v1/evaluations/feedbacks")
    assert r.code == 200 and r.json() is True
    assert (await api("GET", "v1/evaluations/feedbacks/all")).json() == []


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"data": {"rating": 0}}, 422, "rating"),
        ({"data": {"rating": "up"}}, 422, "rating"),
        ({"data": {"details": {"rating": 11}}}, 422, "details.rating"),
        ({"data": {"details": {"rating": 0}}}, 422, "details.rating"),
        ({"data": {"comment": "x" * 4001}}, 422, "comment"),
        ({"data": {"reason": "x" * 201}}, 422, "reason"),
        ({"data": {"sibling_model_ids": ["m"] * 17}}, 422, "sibling_model_ids"),
        ({"data": {"model_id": "slow"}}, 422, "answered by 'fast'"),
        ({"data": {"sibling_model_ids": ["slow"]}}, 422, "answered no other message"),
        ({"meta": {"message_id": "no-such-message"}}, 404, "not found"),
        ({"meta": {"chat_id": "no-such-chat"}}, 404, "not found"),
        ({"meta": {"message_id": "bad id"}}, 422, "message_id"),
        ({"type": "vote"}, 422, "type"),
        ({"snapshot": {"chat": "x" * (1024 * 1024)}}, 413, "snapshot"),
    ],
)
async def test_bad_ratings_are_clear_4xx(api: Any, change: dict, status: int, words: str) -> None:
    chat_id, answer = await answered_chat(api)
    body = rating(chat_id, answer["id"])
    for key, value in change.items():
        if isinstance(value, dict):
            body[key] = {**body.get(key, {}), **value}
        else:
            body[key] = value
    r = await api("POST", "v1/evaluations/feedback", body)
    assert r.code == status, r.body
    assert words in r.json()["message"]
    assert (await api("GET", "v1/evaluations/feedbacks/user")).json() == []


async def test_a_users_message_is_no_answer(api: Any) -> None:
    chat_id, answer = await answered_chat(api)
    r = await api("POST", "v1/evaluations/feedback", rating(chat_id, answer["parentId"]))
    assert r.code == 422 and "assistant" in r.json()["message"]


async def test_the_arena_answers_twice_and_its_rating_feeds_the_leaderboard(
    api: Any, ws_connect: Any, scripted_openai: Any
) -> None:
    models = (await api("GET", "models")).json()["data"]
    assert [m["id"] for m in models] == ["fast", "slow", "arena-model"]
    chat = (await api("POST", "v1/chats/new", {"chat": {"models": ["arena-model"]}})).json()
    ws = await ws_connect()
    body = {
        "model": "arena-model",
        "messages": [{"role": "user", "content": "Which is better?"}],
        "stream": True,
        "chat_id": chat["id"],
        "parent_id": None,
        "session_id": "arena-session",
    }
    r = await api("POST", "chat/completions", body)
    assert r.code == 200, r.body
    started = r.json()
    assert len(started["message_ids"]) == 2 and started["message_ids"][0] == started["message_id"]
    pending = set(started["message_ids"])

    def both_done(frame: dict[str, Any]) -> bool:
        data = frame.get("data") or {}
        if frame.get("type") == "chat:completion" and data.get("done"):
            pending.discard(frame.get("message_id"))
        return not pending

    await frames_until(ws, both_done)
    history = (await api("GET", f"v1/chats/{chat['id']}")).json()["chat"]["history"]
    first, second = (history["messages"][i] for i in started["message_ids"])
    assert first["parentId"] == second["parentId"] == started["user_message_id"]
    assert history["messages"][started["user_message_id"]]["childrenIds"] == started["message_ids"]
    assert first["arena"] is True and second["arena"] is True
    assert {first["model"], second["model"]} == {"fast", "slow"}
    assert sorted(req["model"] for req in scripted_openai.requests) == ["fast", "slow"]
    # The first answer wins: +16 / -16 from 1000 (E = 0.5); win rates 1 and 0.
    vote = rating(
        chat["id"],
        first["id"],
        model=first["model"],
        sibling_model_ids=[second["model"]],
    )
    vote["meta"]["arena"] = True
    r = await api("POST", "v1/evaluations/feedback", vote)
    assert r.code == 200, r.body
    board = (await api("GET", "v1/evaluations/leaderboard", user="bob")).json()
    assert board["feedbacks"] == 1 and board["k_factor"] == 32 and board["initial_rating"] == 1000
    assert [
        (m["id"], m["rating"], m["won"], m["lost"], m["win_rate"]) for m in board["models"]
    ] == [
        (first["model"], 1016.0, 1, 0, 1.0),
        (second["model"], 984.0, 0, 1, 0.0),
    ]
    # A thumbs up on a lone answer: a win, no Elo change.
    solo_chat, solo = await answered_chat(api, model="slow")
    await api("POST", "v1/evaluations/feedback", rating(solo_chat, solo["id"], model="slow"))
    rows = {m["id"]: m for m in (await api("GET", "v1/evaluations/leaderboard")).json()["models"]}
    assert rows["slow"]["rating"] == (984.0 if second["model"] == "slow" else 1016.0)
    assert rows["slow"]["count"] == 2


async def test_the_arena_switch_and_its_refusals(api: Any) -> None:
    assert (await api("GET", "v1/evaluations/config", user="bob")).code == 403
    assert (await api("GET", "v1/evaluations/config")).json() == {
        "ENABLE_EVALUATION_ARENA_MODELS": True
    }
    chat = (await api("POST", "v1/chats/new", {"chat": {"models": ["arena-model"]}})).json()
    turn = {
        "model": "arena-model",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "chat_id": chat["id"],
    }
    r = await api("POST", "chat/completions", turn)  # no session_id
    assert r.code == 422 and "live mode" in r.json()["message"]
    r = await api(
        "POST", f"v1/chats/{chat['id']}/message", {"content": "x", "model": "arena-model"}
    )
    assert r.code == 422
    r = await api(
        "POST", "v1/evaluations/config", {"ENABLE_EVALUATION_ARENA_MODELS": False}, user="bob"
    )
    assert r.code == 403
    r = await api("POST", "v1/evaluations/config", {"ENABLE_EVALUATION_ARENA_MODELS": False})
    assert r.json() == {"ENABLE_EVALUATION_ARENA_MODELS": False}
    assert "arena-model" not in [m["id"] for m in (await api("GET", "models")).json()["data"]]
    r = await api("POST", "chat/completions", {**turn, "session_id": "s", "id": str(uuid.uuid4())})
    assert r.code == 404 and "ENABLE_EVALUATION_ARENA_MODELS" in r.json()["message"]
    assert (await api("GET", f"v1/chats/{chat['id']}")).json()["chat"]["history"]["messages"] == {}
