"""Speech to text and text to speech against a scripted OpenAI-compatible audio endpoint: the
multipart and JSON requests it gets, the limits, the settings and the error mapping."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from chat.helpers import SECRET_KEY
from support.scripted_media import SPEECH, wav_bytes
from tornado.httpclient import HTTPClientError

from media.conftest import media_settings, multipart_body

MAX_UPLOAD = 256 * 1024


@pytest.fixture
def oui_extra_config(scripted_media: Any) -> dict[str, Any]:
    return media_settings(
        scripted_media.base_url,
        audio_config={"AUDIO_STT_ENGINE": "openai", "AUDIO_TTS_ENGINE": "openai"},
        audio_max_upload_size=MAX_UPLOAD,
        audio_max_duration=5.0,
        speech_max_input=100,
    )


async def test_transcription_relays_a_multipart_upload_with_the_configured_model(
    upload, scripted_media
):
    clip = wav_bytes(1.0)
    r = await upload(clip, fields={"model": "ignored", "language": "en", "junk": "dropped"})
    assert r.code == 200, r.body
    assert r.json() == {"text": f"heard {len(clip)} bytes of clip.wav"}
    (sent,) = scripted_media.requests
    assert sent["path"] == "/v1/audio/transcriptions"
    assert sent["content_type"] == "multipart/form-data"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["form"] == {"model": "whisper-1", "language": "en"}
    assert sent["file"] == {
        "field": "file",
        "filename": "clip.wav",
        "content_type": "audio/wav",
        "size": len(clip),
        "head": clip[:16],
    }


async def test_a_browser_recording_without_a_usable_name_gets_one(upload, scripted_media):
    r = await upload(b"\x1aE\xdf\xa3webm-bytes", filename="", content_type="audio/webm")
    assert r.code == 200, r.body
    sent = scripted_media.requests[0]["file"]
    assert sent["filename"] == "audio.webm" and sent["content_type"] == "audio/webm"


async def test_an_upload_over_the_size_limit_is_413_and_never_relayed(upload, scripted_media):
    r = await upload(bytes(MAX_UPLOAD + 100 * 1024), filename="big.mp3", content_type="audio/mpeg")
    assert r.code == 413, r.body
    assert r.json()["reason"] == "audio_too_large" and str(MAX_UPLOAD) in r.json()["message"]
    assert scripted_media.requests == []


async def test_an_upload_declared_far_over_the_limit_is_refused_before_it_is_read(
    jp_fetch, jp_http_port, jp_base_url, scripted_media
):
    """``jp_fetch``: the server listens."""
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write(
        (
            f"POST {jp_base_url}oui/api/v1/audio/transcriptions HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{jp_http_port}\r\nAuthorization: token alice-token\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {100 * MAX_UPLOAD}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # no byte of body sent
    assert head.startswith(b"HTTP/1.1 413 ")
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    body = json.loads(await reader.readexactly(length))
    assert body["reason"] == "audio_too_large"
    writer.close()
    assert scripted_media.requests == []


async def test_a_chunked_upload_over_the_limit_is_dropped_as_it_comes(jp_fetch, scripted_media):
    body, kind = multipart_body([("file", "a.mp3", "audio/mpeg", bytes(MAX_UPLOAD + 200 * 1024))])

    async def producer(write: Any) -> None:
        for at in range(0, len(body), 32 * 1024):
            await write(body[at : at + 32 * 1024])

    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "oui",
            "api",
            "v1",
            "audio",
            "transcriptions",
            method="POST",
            body_producer=producer,
            headers={"Authorization": "token alice-token", "Content-Type": kind},
        )
    assert refused.value.code == 413
    assert scripted_media.requests == []


async def test_a_wav_over_the_duration_limit_is_413_and_a_broken_one_422(upload, scripted_media):
    r = await upload(wav_bytes(6.0, rate=8000))  # 96 kB: under the size limit
    assert r.code == 413, r.body
    assert r.json()["message"] == "the recording is 6 s long; the limit is 5 s"
    r = await upload(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(64))
    assert r.code == 422 and r.json()["reason"] == "bad_wav"
    r = await upload(b"")
    assert r.code == 422 and "empty" in r.json()["message"]
    assert scripted_media.requests == []
    # A header written before the length was known: the bytes tell the duration, as they come.
    r = await upload(wav_bytes(6.0, rate=8000, declared=0xFFFFFFFF))
    assert r.code == 413 and r.json()["reason"] == "audio_too_long"
    assert (await upload(wav_bytes(4.0, rate=8000, declared=0xFFFFFFFF))).code == 200


async def test_a_request_without_one_file_field_is_422(api, upload, scripted_media):
    body, kind = multipart_body([], {"model": "x"})
    r = await api("POST", "v1/audio/transcriptions", raw=body, headers={"Content-Type": kind})
    assert r.code == 422 and "'file'" in r.json()["message"]
    r = await api("POST", "v1/audio/transcriptions", {"file": "nope"})
    assert r.code == 422 and "multipart/form-data" in r.json()["message"]
    body, kind = multipart_body([("upload", "a.wav", "audio/wav", b"RIFF")])
    r = await api("POST", "v1/audio/transcriptions", raw=body, headers={"Content-Type": kind})
    assert r.code == 422
    assert scripted_media.requests == []


@pytest.mark.parametrize(("upstream", "status"), [(400, 422), (413, 413), (500, 502), (503, 502)])
async def test_transcription_upstream_errors_map(upload, scripted_media, upstream, status):
    scripted_media.fail_status = upstream
    r = await upload(wav_bytes(0.5))
    assert r.code == status, r.body
    assert f"scripted failure {upstream}" in r.json()["message"]


async def test_a_silent_transcriber_is_a_504(upload, scripted_media):
    scripted_media.hang = True
    r = await upload(wav_bytes(0.5))
    assert r.code == 504


async def test_speech_relays_the_audio_with_its_content_type(api, scripted_media):
    scripted_media.speech_type = "audio/wav"
    r = await api(
        "POST", "v1/audio/speech", {"input": "Hello there", "voice": "nova", "speed": 1.5}
    )
    assert r.code == 200, r.body
    assert r.body == b"".join(SPEECH)
    assert r.headers["Content-Type"] == "audio/wav"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    (sent,) = scripted_media.requests
    assert sent["path"] == "/v1/audio/speech" and sent["content_type"] == "application/json"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["json"] == {"model": "tts-1", "input": "Hello there", "voice": "nova", "speed": 1.5}
    r = await api("POST", "v1/audio/speech", {"input": "Default voice"})
    assert r.code == 200 and scripted_media.requests[-1]["json"]["voice"] == "alloy"


async def test_speech_limits_and_errors(api, scripted_media):
    r = await api("POST", "v1/audio/speech", {"input": "x" * 101})
    assert r.code == 422 and r.json()["message"] == "input is 101 characters; the limit is 100"
    assert (await api("POST", "v1/audio/speech", {"input": ""})).code == 422
    assert (
        await api("POST", "v1/audio/speech", {"input": "a", "response_format": "exe"})
    ).code == 422
    assert scripted_media.requests == []
    scripted_media.speech_type = "text/html"
    r = await api("POST", "v1/audio/speech", {"input": "hello"})
    assert r.code == 502 and "not audio" in r.json()["message"]
    scripted_media.fail_status = 400
    r = await api("POST", "v1/audio/speech", {"input": "hello"})
    assert r.code == 422 and "scripted failure 400" in r.json()["message"]
    scripted_media.fail_status = 0
    scripted_media.hang = True
    assert (await api("POST", "v1/audio/speech", {"input": "hello"})).code == 504


async def test_audio_settings_are_admins_only_redacted_and_switch_off(api, upload, scripted_media):
    assert (await api("GET", "v1/audio/config", user="bob")).code == 403
    body = {"stt": {"ENGINE": ""}}
    assert (await api("POST", "v1/audio/config/update", body, user="bob")).code == 403
    shown = (await api("GET", "v1/audio/config")).json()
    assert shown["stt"]["ENGINE"] == "openai" and shown["tts"]["VOICE"] == "alloy"
    for side in ("stt", "tts"):
        assert shown[side]["OPENAI_API_BASE_URL"] == scripted_media.base_url
        assert SECRET_KEY not in shown[side]["OPENAI_API_KEY"]
    assert (await api("POST", "v1/audio/config/update", shown)).json() == shown
    features = (await api("GET", "config")).json()["features"]
    assert features["enable_audio_stt"] is True and features["enable_audio_tts"] is True
    r = await api("POST", "v1/audio/config/update", {"stt": {"ENGINE": "whisper-local"}})
    assert r.code == 422
    r = await api(
        "POST", "v1/audio/config/update", {"stt": {"ENGINE": ""}, "tts": {"VOICE": "echo"}}
    )
    assert r.code == 200 and r.json()["stt"]["ENGINE"] == "" and r.json()["tts"]["VOICE"] == "echo"
    r = await upload(wav_bytes(0.5))
    assert r.code == 503
    message = r.json()["message"]
    assert message.startswith("Speech to text is off") and "AUDIO_STT_ENGINE=openai" in message
    assert (await api("GET", "config")).json()["features"]["enable_audio_stt"] is False
    assert (await api("POST", "v1/audio/speech", {"input": "hi"})).code == 200
    assert scripted_media.requests[-1]["json"]["voice"] == "echo"
    # Another host for speech: the connection's key does not go there.
    other = scripted_media.base_url.replace("127.0.0.1", "localhost")
    r = await api("POST", "v1/audio/config/update", {"tts": {"OPENAI_API_BASE_URL": other}})
    assert r.code == 200 and r.json()["tts"]["OPENAI_API_KEY"] == ""
    assert (await api("POST", "v1/audio/speech", {"input": "hi"})).code == 200
    assert "Authorization" not in scripted_media.requests[-1]["headers"]


async def test_an_unreachable_transcriber_is_a_502(api, upload, scripted_media):
    from oui_jupyter.providers.local_llama import free_port

    closed = f"http://127.0.0.1:{free_port()}/v1"
    r = await api("POST", "v1/audio/config/update", {"stt": {"OPENAI_API_BASE_URL": closed}})
    assert r.code == 200
    r = await upload(wav_bytes(3.0))  # more than the header the relay holds back
    assert r.code == 502 and "Cannot reach" in r.json()["message"]
    assert r.json()["reason"] == "upstream_unreachable"
