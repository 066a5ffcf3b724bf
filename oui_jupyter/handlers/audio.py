"""Audio routes (``oui/api/v1/audio/...``), Open WebUI shapes: admin settings, speech to
text (a multipart upload, read as it streams in and bounded), text to speech (relayed)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.iostream import StreamClosedError

from oui_jupyter.errors import ProviderError
from oui_jupyter.handlers.base import AUTH_RESOURCE, Operation, OuiHandler
from oui_jupyter.handlers.multipart import Upload, parse_one_file
from oui_jupyter.schemas.media import AudioConfig, SpeechForm, Transcription

if TYPE_CHECKING:
    from oui_jupyter.services.audio import AudioService

#: multipart framing allowed on top of the file itself
MULTIPART_SLACK = 64 * 1024
#: an upload declared larger than this many times the limit is refused before it is read;
#: a smaller one over the limit is read to its end (nothing kept), so that every client,
#: browsers included, reads the 413 rather than a connection closed mid-upload
DRAIN_FACTOR = 2
UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string"},
        "language": {"type": "string"},
        "prompt": {"type": "string"},
        "temperature": {"type": "string"},
    },
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
    off, or ``Content-Length`` is far over the limit; else it is kept as it streams in, and
    dropped past the limit (413 at its end)."""

    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Transcribe a recording (multipart field `file`; WAV, MP3, WebM, Ogg...): its text. "
            "413 over the size limit, or over the duration limit where the file's header says "
            "it (WAV); 503 when speech to text is off or has no endpoint",
            response=Transcription,
            body_type="multipart/form-data",
            body_schema=UPLOAD_SCHEMA,
            statuses=(400, 413, 429, 502, 503, 504),
        )
    }

    _chunks: list[bytes]
    _received = 0
    _over = False
    _target: Any = None

    async def prepare(self) -> None:  # type: ignore[override]
        self._chunks = []
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

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._over:
            return
        if self._received > self.audio.max_upload_size + MULTIPART_SLACK:
            self._over = True
            self._chunks = []
            return
        self._chunks.append(chunk)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if self._over:
            raise self.audio.too_large(self._received)
        chunks, self._chunks = self._chunks, []
        content_type = self.request.headers.get("Content-Type", "")
        fields, upload = await asyncio.to_thread(_parse, content_type, chunks)
        text = await self.audio.transcribe(
            self._target, upload.filename, upload.content_type, upload.data, fields
        )
        self.write_json(text)


def _parse(content_type: str, chunks: list[bytes]) -> tuple[dict[str, str], Upload]:
    """The form of the received chunks (dropped once joined: one copy of the upload)."""
    body = b"".join(chunks)
    chunks.clear()
    return parse_one_file(content_type, body)


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
