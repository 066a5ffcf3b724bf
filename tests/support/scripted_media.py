"""A scripted OpenAI-compatible images and audio server, in a background thread (aiohttp).

Routes, as OpenAI's API has them under ``/v1``:

- ``POST /images/generations`` (JSON): ``n`` PNGs as ``b64_json``, or, with ``image_mode``
  ``"url"``, as URLs of ``GET /files/<name>`` on this server; ``"html"`` answers a page's
  bytes as the image, ``"empty"`` no images;
- ``POST /audio/transcriptions`` (multipart, read as a form the way OpenAI's servers do):
  ``{"text": "heard <bytes> bytes of <filename>"}`` after ``transcribe_delay`` seconds;
- ``POST /audio/speech`` (JSON): ``speech_chunks`` streamed with ``speech_type``;
- ``GET /models``: ``image_models``.

``fail_status`` makes every media route answer that status with an OpenAI error body;
``hang`` makes them answer nothing until ``reset``. Each request is recorded in ``requests`` (path, headers,
JSON body or form fields, and the file's name, type, size and first bytes).
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` red pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def wav_bytes(
    seconds: float,
    rate: int = 16000,
    channels: int = 1,
    *,
    header_only: bool = False,
    declared: int | None = None,
) -> bytes:
    """A 16-bit PCM WAV of ``seconds`` of silence (``header_only``: the header claims that
    much but no samples follow, as a file cut short; ``declared``: the data size the header
    says, e.g. 0xFFFFFFFF as a recorder that did not know it writes)."""
    byte_rate = rate * channels * 2
    size = int(seconds * byte_rate)
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, byte_rate, channels * 2, 16)
        + b"data"
        + struct.pack("<I", size if declared is None else declared)
    )
    return header if header_only else header + bytes(size)


PNG = png_bytes()
SPEECH = [b"ID3\x04fake-mp3-frame-1|", b"fake-mp3-frame-2|", b"fake-mp3-frame-3"]


class ScriptedMedia:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self.model_requests: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.reset()

    def reset(self) -> None:
        self.requests.clear()
        self.model_requests.clear()
        self.image_mode = "b64"
        self.image_models = ["img-1", "img-2"]
        self.fail_status = 0
        self.hang = False
        self.transcribe_delay = 0.0
        self.speech_type = "audio/mpeg"
        self.speech_chunks = list(SPEECH)
        self.speech_gap = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ----- lifecycle -----
    def start(self) -> ScriptedMedia:
        self._thread = threading.Thread(target=self._run, name="scripted-media", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/v1/images/generations", self._images)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            self.hang = False
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    # ----- behaviour -----
    async def _scripted_failure(self) -> web.Response | None:
        while self.hang:  # until reset: a test's client gives up long before
            await asyncio.sleep(0.05)
        if self.fail_status:
            return web.json_response(
                {"error": {"message": f"scripted failure {self.fail_status}", "type": "x"}},
                status=self.fail_status,
                headers={"Retry-After": "7"} if self.fail_status == 429 else None,
            )
        return None

    def _record(self, request: web.Request, **what: Any) -> None:
        self.requests.append(
            {"path": request.path, "headers": dict(request.headers), "at": time.time(), **what}
        )

    async def _models(self, request: web.Request) -> web.Response:
        # apart from ``requests``: the server lists a connection's models whenever it likes
        self.model_requests.append({"path": request.path, "headers": dict(request.headers)})
        return web.json_response(
            {"data": [{"id": m, "object": "model"} for m in self.image_models]}
        )

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def _images(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, json=body, content_type=request.content_type)
        failed = await self._scripted_failure()
        if failed is not None:
            return failed
        n = int(body.get("n", 1))
        if self.image_mode == "empty":
            return web.json_response({"created": 0, "data": []})
        if self.image_mode == "url":
            items = [{"url": f"http://127.0.0.1:{self.port}/files/{i}.png"} for i in range(n)]
        else:
            data = b"<html><script>alert(1)</script></html>" if self.image_mode == "html" else PNG
            items = [{"b64_json": base64.b64encode(data).decode()} for _ in range(n)]
        return web.json_response({"created": int(time.time()), "data": items})

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields: dict[str, str] = {}
        file: dict[str, Any] = {}
        reader = await request.multipart()
        async for part in reader:
            if part.filename is not None:  # type: ignore[union-attr]
                data = await part.read()  # type: ignore[union-attr]
                file = {
                    "field": part.name,
                    "filename": part.filename,  # type: ignore[union-attr]
                    "content_type": part.headers.get("Content-Type", ""),
                    "size": len(data),
                    "head": bytes(data[:16]),
                }
            else:
                fields[str(part.name)] = await part.text()  # type: ignore[union-attr]
        self._record(request, form=fields, file=file, content_type=request.content_type)
        failed = await self._scripted_failure()
        if failed is not None:
            return failed
        if self.transcribe_delay:
            await asyncio.sleep(self.transcribe_delay)
        return web.json_response(
            {"text": f"heard {file.get('size', 0)} bytes of {file.get('filename')}"}
        )

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._record(request, json=body, content_type=request.content_type)
        failed = await self._scripted_failure()
        if failed is not None:
            return failed
        response = web.StreamResponse(headers={"Content-Type": self.speech_type})
        await response.prepare(request)
        for chunk in self.speech_chunks:
            await response.write(chunk)
            if self.speech_gap:
                await asyncio.sleep(self.speech_gap)
        await response.write_eof()
        return response


@pytest.fixture(scope="session")
def scripted_media_server() -> Iterator[ScriptedMedia]:
    server = ScriptedMedia().start()
    yield server
    server.stop()


@pytest.fixture
def scripted_media(scripted_media_server: ScriptedMedia) -> ScriptedMedia:
    """The session's scripted media server, its records and behaviour reset."""
    scripted_media_server.reset()
    return scripted_media_server


if __name__ == "__main__":  # its own process, for benchmarks: prints its base URL
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--transcribe-delay", type=float, default=0.0)
    args = parser.parse_args()
    media = ScriptedMedia(args.port).start()
    media.transcribe_delay = args.transcribe_delay
    print(media.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        media.stop()
