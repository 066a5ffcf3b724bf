"""Audio routes (``oui/api/v1/audio/...``), Open WebUI shapes: admin settings, speech to
text (a multipart upload, read as it streams in and bounded), text to speech (relayed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.iostream import StreamClosedError

from oui_jupyter.errors import InvalidInput, MalformedRequest, OuiError, ProviderError
from oui_jupyter.handlers.base import AUTH_RESOURCE, Operation, OuiHandler
from oui_jupyter.handlers.multipart import MAX_FIELD, MultipartReader, boundary_of, disposition
from oui_jupyter.schemas.media import AudioConfig, SpeechForm, Transcription

if TYPE_CHECKING:
    from oui_jupyter.services.audio import AudioService
    from oui_jupyter.services.audio import Transcription as AudioTranscription

#: multipart framing allowed on top of the file itself
MULTIPART_SLACK = 64 * 1024
#: an upload declared larger than this many times the limit is refused before it is read;
#: a smaller one over the limit is read to its end (nothing kept), so that every client,
#: browsers included, reads the 413 rather than a connection closed mid-upload
DRAIN_FACTOR = 2
UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}},
    "additionalProperties": False,
}


class AudioHandler(OuiHandler):
    @property
    def audio(self) -> AudioService:
        return self.services.audio


class AudioConfigHandler(AudioHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Speech to text and text to speech endpoints, keys redacted (admins)",
            response=AudioConfig,
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.audio.config(self.user)))


class AudioConfigUpdateHandler(AudioHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change the audio settings (admins): the fields named replace the stored ones "
            "(none named: 422); '' as a base URL follows the first OpenAI connection; a "
            "redacted key sent as shown keeps the stored key",
            body=AudioConfig,
            response=AudioConfig,
            body_needs_one_of=("tts", "stt"),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.parse_body(AudioConfig)
        raw = self.parse_json()
        self.write_json(await self.off_loop(lambda: self.audio.update_config(self.user, raw)))


@web.stream_request_body
class TranscriptionsHandler(AudioHandler):
    """The upload is refused before it is read when the caller may not, speech to text is
    off, or ``Content-Length`` is far over the limit; else its file is relayed to the
    endpoint as it streams in. Past a limit (or at bad input) the relay is cut and the rest
    of the body read and dropped, so the caller reads the error (413, 422) at its end."""

    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Transcribe a recording (multipart field `file`; WAV, MP3, WebM, Ogg...; optional "
            "text fields `language`, `prompt`, `temperature`): its text. "
            "413 over the size limit, or over the duration limit where the file's header says "
            "it (WAV); 503 when speech to text is off or has no endpoint",
            response=Transcription,
            body_type="multipart/form-data",
            body_schema=UPLOAD_SCHEMA,
            statuses=(400, 413, 429, 502, 503, 504),
        )
    }

    _received = 0
    _error: OuiError | None = None
    _target: Any = None
    _reader: MultipartReader | None = None
    _transcription: AudioTranscription | None = None
    _in_file = False
    _field = ""

    async def prepare(self) -> None:  # type: ignore[override]
        self._fields: dict[str, str] = {}
        self._after: dict[str, str] = {}
        self._value = bytearray()
        await super().prepare()
        if self.current_user is None or self.request.method != "POST":
            raise web.HTTPError(403) if self.current_user is None else web.HTTPError(405)
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "write", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        self._target = await asyncio.to_thread(self.audio.target, "stt")
        declared = int(self.request.headers.get("Content-Length", "0") or 0)
        if declared > DRAIN_FACTOR * self.audio.max_upload_size + MULTIPART_SLACK:
            raise self.audio.too_large(declared)
        try:
            self._reader = MultipartReader(
                boundary_of(self.request.headers.get("Content-Type", ""))
            )
        except OuiError as error:
            self._fail(error)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self._received += len(chunk)
        if self._error is not None:
            return None
        if self._received > self.audio.max_upload_size + MULTIPART_SLACK:
            self._fail(self.audio.too_large(self._received))
            return None
        return self._feed(chunk)

    async def _feed(self, chunk: bytes) -> None:
        assert self._reader is not None
        try:
            for kind, value in self._reader.feed(chunk):
                await self._on(kind, value)
        except OuiError as error:
            self._fail(error)

    async def _on(self, kind: str, value: Any) -> None:
        if kind == "part":
            name, params = disposition(value)
            if "filename" in params:
                if name != "file" or self._transcription is not None:
                    raise InvalidInput("send exactly one file, in the multipart field named 'file'")
                self._transcription = self.audio.transcription(
                    self._target, params["filename"], value.get("Content-Type", ""), self._fields
                )
                self._in_file = True
            else:
                self._field, self._value = name, bytearray()
        elif kind == "data":
            if self._in_file:
                assert self._transcription is not None
                await self._transcription.add(value)
            elif self._field and len(self._value) <= MAX_FIELD:
                self._value += value
        elif kind == "end":
            if self._in_file:
                self._in_file = False
            elif self._field and len(self._value) <= MAX_FIELD:
                fields = self._fields if self._transcription is None else self._after
                fields[self._field] = self._value.decode("utf-8", "replace")

    def _fail(self, error: OuiError) -> None:
        """Keep the first error; cut the relay; drop what is still to come."""
        if self._error is None:
            self._error = error
        if self._transcription is not None:
            self._transcription.abort()

    def on_connection_close(self) -> None:
        if self._transcription is not None:
            self._transcription.abort()
        super().on_connection_close()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if self._error is not None:
            raise self._error
        assert self._reader is not None
        if not self._reader.done:
            raise MalformedRequest("the multipart body is cut or malformed")
        if self._transcription is None:
            raise InvalidInput("send exactly one file, in the multipart field named 'file'")
        self.write_json(await self._transcription.finish(self._after))


class SpeechHandler(AudioHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Speak a text (OpenAI's speech body): the endpoint's audio, relayed as it comes "
            "with its content type; 503 when text to speech is off or has no endpoint",
            body=SpeechForm,
            response=str,
            content_type="audio/mpeg",
            statuses=(429, 502, 503, 504),
        )
    }

    _gone = False

    def on_connection_close(self) -> None:
        self._gone = True
        super().on_connection_close()

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.parse_body(SpeechForm)
        form = self.parse_json()
        async with self.audio.speech(self.user, form) as streamed:
            self.set_header("Content-Type", streamed.content_type)
            self.set_header("X-Content-Type-Options", "nosniff")
            self.set_header("Cache-Control", "no-store")
            try:
                async for chunk in streamed.chunks:
                    if self._gone:
                        return
                    self.write(chunk)
                    await self.flush()
            except StreamClosedError:
                return
            except ProviderError as error:
                if not self._headers_written:
                    raise
                self.log.warning("oui: speech relay cut: %s", error.message)
                cast(Any, self.request.connection).close()  # the client sees it cut
                return
            self.finish(set_content_type=streamed.content_type)
