"""Image turns (Open WebUI's ``features.image_generation``): the answer is the images generated
from the user's prompt, stored as file items of the assistant message (never base64)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.polling import eventually
from support.scripted_media import PNG

from media.conftest import media_settings

MODEL = "img-1"  # the scripted upstream's models are the chat models too


@pytest.fixture
def oui_extra_config(scripted_media: Any) -> dict[str, Any]:
    return media_settings(scripted_media.base_url, images_config={"ENABLE_IMAGE_GENERATION": True})


async def new_chat(api: Any) -> str:
    r = await api("POST", "v1/chats/new", {"chat": {"title": "Pictures", "models": [MODEL]}})
    assert r.code == 200, r.body
    return r.json()["id"]


def image_requests(scripted_media: Any) -> list[dict[str, Any]]:
    return [r for r in scripted_media.requests if r["path"] == "/v1/images/generations"]


def turn(chat_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "chat_id": chat_id,
        "messages": [{"role": "user", "content": "a red square"}],
        "features": {"image_generation": True},
        **extra,
    }


async def stored(api: Any, chat_id: str) -> dict[str, Any]:
    r = await api("GET", f"v1/chats/{chat_id}")
    assert r.code == 200, r.body
    return r.json()["chat"]


def answer_of(chat: dict[str, Any]) -> dict[str, Any]:
    (answer,) = [m for m in chat["history"]["messages"].values() if m["role"] == "assistant"]
    return answer


async def check_answer(api: Any, chat_id: str) -> dict[str, Any]:
    chat = await stored(api, chat_id)
    answer = answer_of(chat)
    assert answer["done"] and answer["content"] == "a red square"
    (item,) = answer["files"]
    assert item["type"] == "image"
    assert item["url"] == f"/api/v1/files/{item['id']}/content"
    r = await api("GET", f"v1/files/{item['id']}")
    assert r.code == 200 and r.json()["meta"]["content_type"] == "image/png"
    assert "base64" not in json.dumps(chat) and "iVBOR" not in json.dumps(chat)
    return item


async def test_a_chat_turn_with_image_generation_stores_the_images_as_files(
    api, jp_fetch, scripted_media
):
    chat_id = await new_chat(api)
    r = await api("POST", "chat/completions", turn(chat_id, stream=False))
    assert r.code == 200, r.body
    answer = r.json()
    assert answer["choices"][0]["message"]["content"] == "a red square"
    (sent,) = image_requests(scripted_media)
    assert sent["json"]["prompt"] == "a red square" and sent["json"]["n"] == 1
    item = await check_answer(api, chat_id)
    assert answer["files"] == [item]
    got = await jp_fetch(
        "oui",
        "api",
        "v1",
        "files",
        item["id"],
        "content",
        headers={"Authorization": "token alice-token"},
    )
    assert got.body == PNG
    # No chat model was asked: the scripted upstream has no chat/completions route.
    assert not any(r["path"].endswith("chat/completions") for r in scripted_media.requests)


async def test_streamed_and_live_image_turns(api, scripted_media):
    chat_id = await new_chat(api)
    r = await api("POST", "chat/completions", turn(chat_id, stream=True))
    assert r.code == 200, r.body
    chunks = [
        json.loads(line[6:]) for line in r.body.decode().splitlines() if line.startswith("data: {")
    ]
    assert chunks[0]["files"][0]["type"] == "image"
    await check_answer(api, chat_id)

    live = await new_chat(api)
    r = await api(
        "POST",
        f"v1/chats/{live}/message",
        {
            "content": "a red square",
            "model": MODEL,
            "session_id": "tab-1",
            "features": {"image_generation": True},
        },
    )
    assert r.code == 200, r.body
    await eventually(lambda: stored(api, live), until=lambda c: answer_of(c)["done"])
    await check_answer(api, live)


async def test_an_upstream_failure_is_the_answer_s_error(api, scripted_media):
    scripted_media.fail_status = 500
    chat_id = await new_chat(api)
    r = await api("POST", "chat/completions", turn(chat_id, stream=False))
    assert r.code == 502, r.body
    answer = answer_of(await stored(api, chat_id))
    assert answer["done"] and answer["error"]["content"] and "files" not in answer


async def test_image_generation_off_is_a_clear_error_and_nothing_is_written(api, scripted_media):
    r = await api("POST", "v1/images/config/update", {"enabled": False})
    assert r.code == 200, r.body
    chat_id = await new_chat(api)
    for path, body in (
        ("chat/completions", turn(chat_id, stream=False)),
        (
            f"v1/chats/{chat_id}/message",
            {"content": "a cat", "model": MODEL, "features": {"image_generation": True}},
        ),
    ):
        r = await api("POST", path, body)
        assert r.code == 503, r.body
        assert r.json()["message"].startswith("Image generation is off:")
    assert (await stored(api, chat_id))["history"]["messages"] == {}
    assert image_requests(scripted_media) == []


async def test_config_says_image_generation_is_on(api):
    r = await api("GET", "config")
    assert r.json()["features"]["enable_image_generation"] is True
