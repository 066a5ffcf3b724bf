"""Speech to text and text to speech through OpenAI-compatible ``/audio/transcriptions`` and
``/audio/speech`` endpoints (OpenAI, faster-whisper servers, Kokoro servers and the like).

A recording is relayed while it is received, bounded in size and, where its header tells
(WAV), in duration: past a limit the upload to the endpoint is cut and the caller gets 413.
Speech input is bounded in length. The configured model wins over a request's, as in
Open WebUI; the request's voice wins over the configured default.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from oui_jupyter.errors import InvalidInput, NotReady, PayloadTooLarge, ProviderError
from oui_jupyter.providers import media_settings as ms
from oui_jupyter.providers.media import FormUpload, MediaUpstream, Streamed
from oui_jupyter.services.audio_limits import HEADER_SCAN, WavHeader, wav_header
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

    def too_long(self, seconds: float) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the recording is {seconds:.0f} s long; the limit is {self.max_duration:g} s",
            reason="audio_too_long",
        )

    def transcription(
        self,
        target: tuple[ms.Endpoint, dict[str, Any]],
        filename: str,
        content_type: str,
        fields: dict[str, str],
    ) -> Transcription:
        """A recording to transcribe with the endpoint ``target`` (see :meth:`target`), fed
        as it is received."""
        return Transcription(self, target, filename, content_type, fields)

    # ----- text to speech -----    # ----- text to speech -----
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


def _fields(fields: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, fields[name]) for name in STT_FIELDS if fields.get(name)]


class Transcription:
    """One recording relayed to the endpoint while it is received: its first bytes (up to
    ``HEADER_SCAN``) are held until the header is checked (WAV: the duration), then every
    piece goes on at once. Each limit raises as soon as it is passed."""

    def __init__(
        self,
        service: AudioService,
        target: tuple[ms.Endpoint, dict[str, Any]],
        filename: str,
        content_type: str,
        fields: dict[str, str],
    ) -> None:
        self.service = service
        self.endpoint, settings = target
        self.filename = filename
        self.content_type = content_type
        self.model = settings["AUDIO_STT_MODEL"] or fields.get("model") or "whisper-1"
        self.fields = fields
        self.size = 0
        self._head = bytearray()
        self._wav: WavHeader | None = None
        self._upload: FormUpload | None = None

    async def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.service.max_upload_size:
            raise self.service.too_large(self.size)
        if self._upload is None:
            self._head += piece
            if len(self._head) >= HEADER_SCAN:
                await self._start()
            return
        if self._wav is not None and self._wav.data_size is None:
            seconds = self._wav.seconds(self.size)
            if seconds > self.service.max_duration:
                raise self.service.too_long(seconds)
        await self._upload.put(piece)

    async def _start(self) -> None:
        head, self._head = bytes(self._head), bytearray()
        self._wav = wav_header(head)
        if self._wav is not None:
            seconds = self._wav.seconds(self.size)
            if seconds > self.service.max_duration:
                raise self.service.too_long(seconds)
        self._upload = FormUpload(
            self.service.upstream,
            self.endpoint,
            "audio/transcriptions",
            [("model", self.model), *_fields(self.fields)],
            self.filename,
            self.content_type,
        )
        await self._upload.put(head)

    async def finish(self, fields: dict[str, str] | None = None) -> dict[str, str]:
        """The file is whole (``fields`` came after it): ``{text}``."""
        if self._upload is None:
            if not self._head:
                raise InvalidInput("the audio file is empty", reason="audio_empty")
            await self._start()
        assert self._upload is not None
        answer = await self._upload.finish(_fields(fields or {}))
        if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
            raise ProviderError(
                f"The speech server at {self.endpoint.base_url} answered without a text",
                reason="upstream_no_text",
            )
        return {"text": answer["text"]}

    def abort(self) -> None:
        if self._upload is not None:
            self._upload.abort()
