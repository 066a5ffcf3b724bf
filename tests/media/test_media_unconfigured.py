"""With nothing configured (no variables, no connection), each route says in one line what
to set; switched on without an endpoint, it says that."""

from __future__ import annotations

from typing import Any

import pytest
from support.scripted_media import wav_bytes

from media.conftest import NO_CONNECTION


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    return {**NO_CONNECTION, "images_config": {}, "audio_config": {}}


async def test_with_nothing_configured_each_route_says_what_to_set(api, upload, scripted_media):
    r = await api("POST", "v1/images/generations", {"prompt": "p"})
    assert r.code == 503 and "ENABLE_IMAGE_GENERATION=true" in r.json()["message"]
    r = await upload(wav_bytes(0.2))
    assert r.code == 503 and "AUDIO_STT_ENGINE=openai" in r.json()["message"]
    r = await api("POST", "v1/audio/speech", {"input": "hello"})
    assert r.code == 503 and "AUDIO_TTS_ENGINE=openai" in r.json()["message"]
    # Switched on without an endpoint or a connection to follow: that is what is missing.
    r = await api("POST", "v1/audio/config/update", {"stt": {"ENGINE": "openai"}})
    assert r.code == 200 and r.json()["stt"]["OPENAI_API_BASE_URL"] == ""
    r = await upload(wav_bytes(0.2))
    assert r.code == 503 and r.json()["reason"] == "audio_stt_no_endpoint"
    assert "AUDIO_STT_OPENAI_API_BASE_URL" in r.json()["message"]
    features = (await api("GET", "config")).json()["features"]
    assert not any(
        features[f] for f in ("enable_image_generation", "enable_audio_stt", "enable_audio_tts")
    )
    assert scripted_media.requests == []
