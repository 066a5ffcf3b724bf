"""Units of images and audio: settings (variables, forms, defaults, redaction), WAV
durations, the multipart reader and body."""

from __future__ import annotations

import pytest
from support.scripted_media import wav_bytes

from media.conftest import multipart_body
from oui_jupyter.errors import InvalidInput, MalformedRequest
from oui_jupyter.handlers.multipart import (
    MultipartReader,
    boundary_of,
    disposition,
    parse_one_file,
)
from oui_jupyter.providers import media_settings as ms
from oui_jupyter.providers.connections import Connection
from oui_jupyter.providers.media import form_head, form_tail
from oui_jupyter.services.audio_limits import wav_duration

FIRST = Connection(idx="0", base_url="http://llm:8000/v1", key="sk-connection-key-123456")


def test_variables_over_defaults():
    env = {"ENABLE_IMAGE_GENERATION": "True", "IMAGE_STEPS": "30", "IMAGE_SIZE": " 1024x1024 "}
    settings = ms.from_env(ms.IMAGES_DEFAULTS, env)
    assert settings["ENABLE_IMAGE_GENERATION"] is True and settings["IMAGE_STEPS"] == 30
    assert settings["IMAGE_SIZE"] == "1024x1024" and settings["IMAGES_OPENAI_API_BASE_URL"] == ""
    assert ms.from_env(ms.IMAGES_DEFAULTS, {"IMAGE_STEPS": "many"})["IMAGE_STEPS"] == 50
    assert ms.from_env(ms.AUDIO_DEFAULTS, {})["AUDIO_STT_ENGINE"] == ""


def test_an_empty_endpoint_follows_the_first_connection_and_its_key_stays_home():
    assert ms.endpoint("", "", None) is None
    assert ms.endpoint("", "", FIRST) == ms.Endpoint(FIRST.base_url, FIRST.key)
    assert ms.endpoint("", "sk-own", FIRST).key == "sk-own"
    assert ms.endpoint("http://llm:8000/v1/", "", FIRST).key == FIRST.key
    assert ms.endpoint("http://elsewhere/v1", "", FIRST) == ms.Endpoint("http://elsewhere/v1", "")
    assert "sk-" not in repr(ms.endpoint("", "", FIRST))
    local = Connection(idx="local", base_url="", local=True)
    off = Connection(idx="1", base_url="http://off/v1", enabled=False)
    assert ms.first_connection([local, off, FIRST]) is FIRST


def test_the_form_shows_defaults_as_followed_and_round_trips():
    settings = ms.normalize({"AUDIO_STT_ENGINE": "openai"}, ms.AUDIO_DEFAULTS)
    shown = ms.form(settings, ms.AUDIO_FIELDS, FIRST)
    assert shown["stt"] == {
        "ENGINE": "openai",
        "OPENAI_API_BASE_URL": FIRST.base_url,
        "OPENAI_API_KEY": "sk-c…3456",
        "MODEL": "whisper-1",
    }
    assert ms.merge(shown, settings, ms.AUDIO_FIELDS, FIRST) == settings
    changed = ms.merge({"tts": {"VOICE": "nova", "MODEL": None}}, settings, ms.AUDIO_FIELDS, FIRST)
    assert changed == {**settings, "AUDIO_TTS_VOICE": "nova"}


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {},
        {"stt": {"ENGINE": "whisper"}},
        {"stt": {"OPENAI_API_BASE_URL": "file:///etc"}},
        {"stt": {"OPENAI_API_KEY": "sk-z…zzzz"}},
        {"stt": {"MODEL": "a\nb"}},
        {"tts": {"VOICE": 3}},
    ],
)
def test_bad_forms_are_refused(raw):
    settings = ms.normalize({}, ms.AUDIO_DEFAULTS)
    with pytest.raises(InvalidInput):
        ms.merge(raw, settings, ms.AUDIO_FIELDS, FIRST)


def test_image_form_kinds():
    settings = ms.normalize({}, ms.IMAGES_DEFAULTS)
    with pytest.raises(InvalidInput):
        ms.merge({"engine": ""}, settings, ms.IMAGES_FIELDS, FIRST)  # no "off" engine here
    with pytest.raises(InvalidInput):
        ms.merge({"IMAGE_STEPS": True}, settings, ms.IMAGE_FIELDS, FIRST)
    new = ms.merge({"IMAGE_SIZE": "auto", "IMAGE_STEPS": 4}, settings, ms.IMAGE_FIELDS, FIRST)
    assert new["IMAGE_SIZE"] == "auto" and new["IMAGE_STEPS"] == 4


def test_wav_durations():
    assert wav_duration(wav_bytes(2.5)) == pytest.approx(2.5)
    assert wav_duration(wav_bytes(1.0, rate=44100, channels=2)) == pytest.approx(1.0)
    assert wav_duration(wav_bytes(60.0, header_only=True)) == pytest.approx(60.0)  # as it says
    streamed = wav_bytes(1.0, declared=0xFFFFFFFF)
    assert wav_duration(streamed) == pytest.approx(1.0)  # it does not say: the bytes tell
    assert wav_duration(b"ID3\x04mp3") is None and wav_duration(b"") is None
    with pytest.raises(InvalidInput):
        wav_duration(b"RIFF\x00\x00\x00\x00WAVE" + b"LIST\x04\x00\x00\x00abcd")


def test_the_multipart_reader_reads_parts_fed_in_any_pieces():
    data = b"\r\n--not-the-boundary\r\n" + bytes(range(256)) * 40
    body, kind = multipart_body([("file", "a b.wav", "audio/wav", data)], {"language": "fr"})
    for size in (1, 7, 70, 4096, len(body)):
        reader = MultipartReader(boundary_of(kind))
        events = [e for at in range(0, len(body), size) for e in reader.feed(body[at : at + size])]
        kinds = [k for k, _ in events if k != "data"]
        assert kinds == ["part", "end", "part", "end", "done"] and reader.done
        parts = [v for k, v in events if k == "part"]
        assert disposition(parts[1]) == ("file", {"name": "file", "filename": "a b.wav"})
        file_data = b"".join(
            v for k, v in events[events.index(("part", parts[1])) :] if k == "data"
        )
        assert file_data == data
    fields, upload = parse_one_file(kind, body)
    assert fields == {"language": "fr"}
    assert upload.filename == "a b.wav" and upload.content_type == "audio/wav"
    assert upload.data == data
    empty, kind = multipart_body([("file", "e.wav", "audio/wav", b"")])
    assert parse_one_file(kind, empty)[1].data == b""
    with pytest.raises(InvalidInput):
        parse_one_file("application/json", body)
    two, kind = multipart_body([("file", "a", "x/y", b"1"), ("file", "b", "x/y", b"2")])
    with pytest.raises(InvalidInput):
        parse_one_file(kind, two)
    bad = b'--b\r\nContent-Disposition: form-data; name="\x05"\r\n\x7f\r\n\r\nx\r\n--b--\r\n'
    with pytest.raises(MalformedRequest):
        parse_one_file("multipart/form-data; boundary=b", bad)
    one, kind = multipart_body([("file", "a", "x/y", b"1" * 100)])
    with pytest.raises(MalformedRequest):
        parse_one_file(kind, one[:-60])


def test_the_multipart_body_it_sends():
    head = form_head("b0", [("model", "whisper-1")], 'x"\r\ny.wav', "audio/wav; codecs=1")
    body = head + b"DATA" + form_tail("b0", [("language", "en")])
    fields, upload = parse_one_file("multipart/form-data; boundary=b0", body)
    assert fields == {"model": "whisper-1", "language": "en"} and upload.data == b"DATA"
    assert upload.filename == "x_y.wav" and upload.content_type == "audio/wav"
    body = form_head("b1", [], "", "text/html\r\nX: y") + form_tail("b1")
    _, upload = parse_one_file("multipart/form-data; boundary=b1", body)
    assert upload.filename == "audio.html" and upload.content_type == "application/octet-stream"
