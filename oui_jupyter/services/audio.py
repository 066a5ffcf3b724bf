"""Speech to text and text to speech through OpenAI-compatible ``/audio/transcriptions`` and
``/audio/speech`` endpoints (OpenAI, faster-whisper servers, Kokoro servers and the like).

Uploads are bounded in size (and, where the header tells, in duration) before anything is
sent; speech input is bounded in length. The configured model wins over a request's, as in
Open WebUI; the request's voice wins over the configured default.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, NotReady, PayloadTooLarge, ProviderError
from oui_jupyter.providers import media_settings as ms
from oui_jupyter.providers.media import MediaUpstream, Streamed
from oui_jupyter.services.audio_limits import wav_duration
from oui_jupyter.services.media_config import StoredSettings

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo

#: what a transcription request may pass on to the endpoint, besides the file
STT_FIELDS = ("language", "prompt", "temperature")
#: content types a speech answer may be relayed with (anything else could be a page)
SPEECH_TYPES = ("audio/", "application/octet-stream")
SETUP = {
    "stt": (
        "an admin sets stt.ENGINE to 'openai' in oui/api/v1/audio/config/update, or the server "
        "is started with AUDIO_STT_ENGINE=openai and AUDIO_STT_OPENAI_API_BASE_URL (or an "
        "OpenAI connection)"
    ),
    "tts": (
        "an admin sets tts.ENGINE to 'openai' in oui/api/v1/audio/config/update, or the server "
        "is started with AUDIO_TTS_ENGINE=openai and AUDIO_TTS_OPENAI_API_BASE_URL (or an "
        "OpenAI connection)"
    ),
}
NAMES = {"stt": "Speech to text", "tts": "Text to speech"}


class AudioService:
    def __init__(
        self,
        settings: StoredSettings,
        upstream: MediaUpstream,
        *,
        max_upload_size: int = 25 * 1024 * 1024,
        max_duration: float = 900.0,
        max_speech_chars: int = 4096,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.max_upload_size = max_upload_size
        self.max_duration = max_duration
        self.max_speech_chars = max_speech_chars

    # ----- admin settings (blocking: database reads) -----
    def config(self, user: UserInfo) -> dict[str, Any]:
        return self.settings.form(user, ms.AUDIO_FIELDS)

    def update_config(self, user: UserInfo, raw: Any) -> dict[str, Any]:
        return self.settings.update(user, raw, ms.AUDIO_FIELDS)

    def available(self, which: str) -> bool:
        """From the last read: whether ``stt`` or ``tts`` is on with an endpoint (for the UI)."""
        settings, first = self.settings.last
        prefix = f"AUDIO_{which.upper()}"
        return settings[f"{prefix}_ENGINE"] == "openai" and (
            ms.setting_endpoint(settings, f"{prefix}_OPENAI_API_BASE_URL", first) is not None
        )

    def target(self, which: str) -> tuple[ms.Endpoint, dict[str, Any]]:
        """The endpoint of ``stt`` or ``tts`` and the settings; ``NotReady`` (503) saying
        what to set when it is off or has no endpoint."""
        settings, first = self.settings.load()
        prefix = f"AUDIO_{which.upper()}"
        if settings[f"{prefix}_ENGINE"] != "openai":
            raise NotReady(f"{NAMES[which]} is off: {SETUP[which]}", reason=f"audio_{which}_off")
        found = ms.setting_endpoint(settings, f"{prefix}_OPENAI_API_BASE_URL", first)
        if found is None:
            raise NotReady(
                f"{NAMES[which]} has no endpoint: {SETUP[which]}",
                reason=f"audio_{which}_no_endpoint",
            )
        return found, settings

    # ----- speech to text -----
    def too_large(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the audio upload is over the limit of {self.max_upload_size} bytes "
            f"({size} bytes or more)",
            reason="audio_too_large",
        )

    def check_audio(self, data: memoryview) -> None:
        """Refuse an empty, too large or (where its header says) too long recording."""
        if not len(data):
            raise InvalidInput("the audio file is empty", reason="audio_empty")
        if len(data) > self.max_upload_size:
            raise self.too_large(len(data))
        seconds = wav_duration(data)
        if seconds is not None and seconds > self.max_duration:
            raise PayloadTooLarge(
                f"the recording is {seconds:.0f} s long; the limit is {self.max_duration:g} s",
                reason="audio_too_long",
            )

    async def transcribe(
        self,
        target: tuple[ms.Endpoint, dict[str, Any]],
        filename: str,
        content_type: str,
        data: memoryview,
        fields: dict[str, str],
    ) -> dict[str, str]:
        """``{text}`` of a recording, from the endpoint ``target`` (see :meth:`target`)."""
        found, settings = target
        self.check_audio(data)
        model = settings["AUDIO_STT_MODEL"] or fields.get("model") or "whisper-1"
        extra = [(name, fields[name]) for name in STT_FIELDS if fields.get(name)]
        answer = await self.upstream.post_multipart(
            found,
            "audio/transcriptions",
            [("model", model), *extra],
            filename,
            content_type,
            data,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
            raise ProviderError(
                f"The speech server at {found.base_url} answered without a text",
                reason="upstream_no_text",
            )
        return {"text": answer["text"]}

    # ----- text to speech -----
    @asynccontextmanager
    async def speech(self, user: UserInfo, form: dict[str, Any]) -> AsyncIterator[Streamed]:
        """The endpoint's audio for ``form`` (OpenAI's speech body), relayed as it comes."""
        text = form.get("input")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("input must be the text to speak", reason="speech_empty")
        if len(text) > self.max_speech_chars:
            raise InvalidInput(
                f"input is {len(text)} characters; the limit is {self.max_speech_chars}",
                reason="speech_too_long",
            )
        found, settings = await asyncio.to_thread(self.target, "tts")
        body: dict[str, Any] = {
            "model": settings["AUDIO_TTS_MODEL"] or form.get("model") or "tts-1",
            "input": text,
            "voice": form.get("voice") or settings["AUDIO_TTS_VOICE"] or "alloy",
        }
        for name in ("response_format", "speed"):
            if form.get(name) is not None:
                body[name] = form[name]
        async with self.upstream.stream_post(found, "audio/speech", body) as streamed:
            kind = streamed.content_type.split(";", 1)[0].strip().lower()
            if not kind.startswith(SPEECH_TYPES):
                raise ProviderError(
                    f"The speech server at {found.base_url} answered {kind or 'no content type'},"
                    " not audio",
                    reason="upstream_not_audio",
                )
            yield streamed
