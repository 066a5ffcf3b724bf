"""Open WebUI's environment variables configure images and audio, with no OpenAI connection."""

from __future__ import annotations

from typing import Any

import pytest
from support.scripted_media import wav_bytes

from media.conftest import NO_CONNECTION

ENV_KEY = "sk-env-images-key-0123456789"


@pytest.fixture
def oui_extra_config(scripted_media: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ENABLE_IMAGE_GENERATION", "true")
    monkeypatch.setenv("IMAGE_GENERATION_ENGINE", "openai")
    monkeypatch.setenv("IMAGES_OPENAI_API_BASE_URL", scripted_media.base_url)
    monkeypatch.setenv("IMAGES_OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("IMAGE_SIZE", "128x128")
    monkeypatch.setenv("AUDIO_STT_ENGINE", "openai")
    monkeypatch.setenv("AUDIO_STT_OPENAI_API_BASE_URL", scripted_media.base_url)
    monkeypatch.setenv("AUDIO_STT_OPENAI_API_KEY", "sk-stt-env")
    monkeypatch.setenv("AUDIO_STT_MODEL", "Systran/faster-whisper-small")
    monkeypatch.setenv("AUDIO_TTS_ENGINE", "openai")
    monkeypatch.setenv("AUDIO_TTS_OPENAI_API_BASE_URL", scripted_media.base_url)
    monkeypatch.setenv("AUDIO_TTS_MODEL", "kokoro")
    monkeypatch.setenv("AUDIO_TTS_VOICE", "af_bella")
    # No OpenAI connection at all: the endpoints come from their own variables.
    return NO_CONNECTION


async def test_the_variables_configure_each_endpoint(api, upload, scripted_media):
    shown = (await api("GET", "v1/images/config")).json()
    assert shown["enabled"] is True
    assert shown["openai"]["OPENAI_API_BASE_URL"] == scripted_media.base_url
    assert ENV_KEY not in shown["openai"]["OPENAI_API_KEY"]
    r = await api("POST", "v1/images/generations", {"prompt": "p"})
    assert r.code == 200, r.body
    sent = scripted_media.requests[-1]
    assert sent["headers"]["Authorization"] == f"Bearer {ENV_KEY}"
    assert sent["json"]["size"] == "128x128"
    r = await upload(wav_bytes(0.2))
    assert r.code == 200, r.body
    sent = scripted_media.requests[-1]
    assert sent["headers"]["Authorization"] == "Bearer sk-stt-env"
    assert sent["form"]["model"] == "Systran/faster-whisper-small"
    r = await api("POST", "v1/audio/speech", {"input": "hello"})
    assert r.code == 200, r.body
    sent = scripted_media.requests[-1]
    assert "Authorization" not in sent["headers"]
    assert sent["json"] == {"model": "kokoro", "input": "hello", "voice": "af_bella"}
