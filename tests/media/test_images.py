"""Image generation against a scripted OpenAI-compatible images endpoint: the request it gets,
the files the images become, the admin settings, and every failure as a clear JSON error."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from chat.helpers import SECRET_KEY
from support.scripted_media import PNG

from media.conftest import media_settings


@pytest.fixture
def oui_extra_config(scripted_media: Any) -> dict[str, Any]:
    return media_settings(scripted_media.base_url, images_config={"ENABLE_IMAGE_GENERATION": True})


async def generate(api: Any, user: str = "alice", **body: Any) -> Any:
    return await api("POST", "v1/images/generations", {"prompt": "a red square", **body}, user=user)


async def fetch(jp_fetch: Any, url: str, user: str = "alice") -> Any:
    """GET an answered URL (it holds the server's base URL, which ``jp_fetch`` adds)."""
    path = urlparse(url).path
    path = path[path.index("oui/api/") :]
    return await jp_fetch(*path.split("/"), headers={"Authorization": f"token {user}-token"})


async def test_generation_posts_openai_json_and_saves_each_image_as_a_file(
    api, jp_fetch, jp_base_url, scripted_media
):
    r = await generate(api, n=2, size="256x256")
    assert r.code == 200, r.body
    urls = [item["url"] for item in r.json()]
    assert len(urls) == 2 and all(set(item) == {"url"} for item in r.json())
    for url in urls:
        assert url.startswith(f"{jp_base_url}oui/api/v1/files/")
        assert url.endswith("/content")
        got = await fetch(jp_fetch, url)
        assert got.body == PNG and got.headers["Content-Type"] == "image/png"
    (sent,) = scripted_media.requests
    assert sent["path"] == "/v1/images/generations"
    assert sent["content_type"] == "application/json"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"  # the first connection's
    assert sent["json"] == {
        "model": "dall-e-2",
        "prompt": "a red square",
        "n": 2,
        "size": "256x256",
        "response_format": "b64_json",
    }
    files = (await api("GET", "v1/files/")).json()
    assert {f["meta"]["content_type"] for f in files} == {"image/png"}
    assert files[0]["meta"]["generated"] == {"prompt": "a red square", "model": "dall-e-2"}
    # The images are alice's: bob cannot read them.
    r = await api("GET", f"v1/files/{files[0]['id']}", user="bob")
    assert r.code == 404


async def test_url_results_are_fetched_and_gpt_image_gets_no_response_format(
    api, jp_fetch, scripted_media
):
    scripted_media.image_mode = "url"
    r = await generate(api, model="gpt-image-1")
    assert r.code == 200, r.body
    assert (await fetch(jp_fetch, r.json()[0]["url"])).body == PNG
    assert "response_format" not in scripted_media.requests[0]["json"]
    assert scripted_media.requests[0]["json"]["model"] == "gpt-image-1"


async def test_what_is_not_an_image_is_refused_and_nothing_is_saved(api, scripted_media):
    scripted_media.image_mode = "html"
    r = await generate(api)
    assert r.code == 502 and "not a PNG, JPEG, GIF or WebP" in r.json()["message"]
    scripted_media.image_mode = "empty"
    r = await generate(api)
    assert r.code == 502 and "no images" in r.json()["message"]
    assert (await api("GET", "v1/files/")).json() == []


@pytest.mark.parametrize(
    ("upstream", "status"), [(400, 422), (401, 502), (413, 413), (429, 429), (500, 502)]
)
async def test_upstream_errors_map_to_clear_json_errors(api, scripted_media, upstream, status):
    scripted_media.fail_status = upstream
    r = await generate(api)
    assert r.code == status, r.body
    body = r.json()
    assert f"answered {upstream}: scripted failure {upstream}" in body["message"]
    assert body["reason"] == f"upstream_{upstream}"
    if upstream == 429:
        assert r.headers["Retry-After"] == "7"


async def test_a_silent_upstream_is_a_504(api, scripted_media):
    scripted_media.hang = True
    r = await generate(api)
    assert r.code == 504 and "did not answer in time" in r.json()["message"]


async def test_bad_requests_are_422(api, scripted_media):
    for body in ({"prompt": ""}, {"prompt": "x", "n": 9}, {"prompt": "x", "size": "huge"}, {}):
        r = await api("POST", "v1/images/generations", body)
        assert r.code == 422, (body, r.body)
    assert scripted_media.requests == []


async def test_settings_are_admins_only_with_the_key_redacted(api, scripted_media):
    assert (await api("GET", "v1/images/config", user="bob")).code == 403
    r = await api("POST", "v1/images/config/update", {"enabled": False}, user="bob")
    assert r.code == 403
    shown = (await api("GET", "v1/images/config")).json()
    assert shown["enabled"] is True and shown["engine"] == "openai"
    assert shown["openai"]["OPENAI_API_BASE_URL"] == scripted_media.base_url
    key = shown["openai"]["OPENAI_API_KEY"]
    assert key and SECRET_KEY not in key and "…" in key
    # Sent back as shown, nothing changes: the key still follows the connection.
    r = await api("POST", "v1/images/config/update", shown)
    assert r.code == 200 and r.json() == shown
    assert (await generate(api)).code == 200
    assert scripted_media.requests[-1]["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    # A redacted key that is not the stored one would be stored as the key: refused.
    r = await api("POST", "v1/images/config/update", {"openai": {"OPENAI_API_KEY": "sk-x…yyyy"}})
    assert r.code == 422 and "redacted" in r.json()["message"]
    # A key of its own, then another host: the connection's key never goes there.
    r = await api(
        "POST", "v1/images/config/update", {"openai": {"OPENAI_API_KEY": "sk-images-only-key-42"}}
    )
    assert r.code == 200 and "sk-images-only-key-42" not in r.body.decode()
    assert (await generate(api)).code == 200
    assert scripted_media.requests[-1]["headers"]["Authorization"] == "Bearer sk-images-only-key-42"
    r = await api(
        "POST", "v1/images/config/update", {"openai": {"OPENAI_API_BASE_URL": "ftp://nope"}}
    )
    assert r.code == 422
    r = await api("POST", "v1/images/config/update", {"prompt_generation": True})
    assert r.code == 422 and "nothing to update" in r.json()["message"]


async def test_switched_off_or_without_endpoint_says_what_to_configure(api, scripted_media):
    config = (await api("GET", "config")).json()
    assert config["features"]["enable_image_generation"] is True
    r = await api("POST", "v1/images/config/update", {"enabled": False})
    assert r.code == 200
    r = await generate(api)
    assert r.code == 503
    message = r.json()["message"]
    assert "Image generation is off" in message and "ENABLE_IMAGE_GENERATION" in message
    assert "\n" not in message and r.json()["reason"] == "images_off"
    assert (await api("GET", "v1/images/models")).code == 503
    config = (await api("GET", "config")).json()
    assert config["features"]["enable_image_generation"] is False
    assert scripted_media.requests == []


async def test_default_model_and_size_and_the_model_list(api, scripted_media):
    assert (await api("GET", "v1/images/image/config", user="bob")).code == 403
    r = await api(
        "POST", "v1/images/image/config/update", {"MODEL": "img-2", "IMAGE_SIZE": "64x64"}
    )
    assert r.code == 200 and r.json() == {
        "MODEL": "img-2",
        "IMAGE_SIZE": "64x64",
        "IMAGE_STEPS": 50,
    }
    assert (await api("POST", "v1/images/image/config/update", {"IMAGE_SIZE": "big"})).code == 422
    assert (await generate(api)).code == 200
    assert scripted_media.requests[-1]["json"]["model"] == "img-2"
    assert scripted_media.requests[-1]["json"]["size"] == "64x64"
    r = await api("GET", "v1/images/models", user="bob")
    assert r.code == 200 and [m["id"] for m in r.json()] == ["img-2", "img-1"]
