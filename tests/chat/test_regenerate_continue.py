"""``regenerate`` and ``continue`` on the completion route, as docs/API.md documents them."""

from __future__ import annotations

from typing import Any

import pytest

from chat.helpers import scripted_settings, sse_text

pytestmark = pytest.mark.storage  # turns are saved: SQLite and PostgreSQL

TOKENS = "".join(f"tok{i} " for i in range(8))  # what the scripted model "fast" answers


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return scripted_settings(scripted_openai.base_url)


async def _first_turn(api: Any, chat_id: str) -> tuple[str, str]:
    """One persisted turn; answers (user message id, answer id)."""
    r = await api(
        "POST",
        "chat/completions",
        {"model": "fast", "chat_id": chat_id, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert r.code == 200, r.body
    history = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]
    answer = history["messages"][history["currentId"]]
    assert answer["role"] == "assistant" and answer["content"] == TOKENS
    return answer["parentId"], answer["id"]


@pytest.mark.parametrize("stream", [False, True])
async def test_regenerate_adds_a_sibling_answer_that_becomes_current(
    api: Any, new_chat: Any, stream: bool
) -> None:
    chat_id = await new_chat(model="fast")
    user_id, first_answer = await _first_turn(api, chat_id)
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "chat_id": chat_id,
            "parent_id": user_id,
            "regenerate": True,
            "stream": stream,
            "id": "again-1",
        },
    )
    assert r.code == 200, r.body
    text = sse_text(r.body) if stream else r.json()["choices"][0]["message"]["content"]
    assert text == TOKENS
    history = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]
    messages = history["messages"]
    assert history["currentId"] == "again-1"
    assert messages["again-1"]["parentId"] == user_id and messages["again-1"]["done"] is True
    assert messages[user_id]["childrenIds"] == [first_answer, "again-1"]
    assert messages[first_answer]["content"] == TOKENS  # the earlier answer stays
    assert len(messages) == 3


async def test_continue_grows_the_same_answer(api: Any, new_chat: Any) -> None:
    chat_id = await new_chat(model="fast")
    _, answer_id = await _first_turn(api, chat_id)
    r = await api(
        "POST",
        "chat/completions",
        {"model": "fast", "chat_id": chat_id, "parent_id": answer_id, "continue": True},
    )
    assert r.code == 200, r.body
    messages = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    assert len(messages) == 2  # no new message
    assert messages[answer_id]["content"].startswith(TOKENS)
    assert len(messages[answer_id]["content"]) > len(TOKENS)
    assert messages[answer_id]["done"] is True


async def test_regenerate_and_continue_refuse_what_they_cannot_do(api: Any, new_chat: Any) -> None:
    chat_id = await new_chat(model="fast")
    user_id, answer_id = await _first_turn(api, chat_id)

    async def post(**fields: Any) -> Any:
        return await api("POST", "chat/completions", {"model": "fast", **fields})

    for flag in ("regenerate", "continue"):
        no_chat = await post(**{flag: True}, messages=[{"role": "user", "content": "Hi"}])
        assert no_chat.code == 422 and "need a chat_id" in no_chat.json()["message"], flag
        unknown = await post(chat_id=chat_id, parent_id="no-such", **{flag: True})
        assert unknown.code == 404, unknown.body
    # Without parent_id the turn works on the chat's current message: here the answer.
    current = await post(chat_id=chat_id, regenerate=True)
    assert current.code == 422 and "user message" in current.json()["message"], current.body
    wrong_role = await post(chat_id=chat_id, parent_id=answer_id, regenerate=True)
    assert wrong_role.code == 422 and "user message" in wrong_role.json()["message"]
    wrong_role = await post(chat_id=chat_id, parent_id=user_id, **{"continue": True})
    assert wrong_role.code == 422 and "assistant message" in wrong_role.json()["message"]
    messages = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    assert len(messages) == 2  # nothing written by a refused request
    assert messages[answer_id]["content"] == TOKENS
    current = await post(chat_id=chat_id, **{"continue": True})
    assert current.code == 200, current.body  # continues the current answer
    messages = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]["history"]["messages"]
    assert len(messages) == 2 and messages[answer_id]["content"].startswith(TOKENS + "tok0")
