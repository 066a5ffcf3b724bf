"""HTTP to OpenAI-compatible images and audio endpoints (``/images/generations``,
``/audio/transcriptions``, ``/audio/speech``), with ``httpx`` (imported on first use, off the
event loop).

Uploads are relayed while they are received (``FormUpload``), answers are read within a
size limit, and speech is relayed chunk by chunk as it arrives. Every
failure becomes a domain error whose message is safe to show: the upstream's 400/422 refusal
(a prompt or a file it will not take) 422, its 413 413, its 429 429, anything else it answers
502, a timeout 504, an unreachable host 502.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from oui_jupyter.errors import (
    InvalidInput,
    OuiError,
    PayloadTooLarge,
    ProviderError,
    ProviderTimeout,
    RateLimited,
)
from oui_jupyter.providers.media_settings import Endpoint

ERROR_BODY_LIMIT = 64 * 1024
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def _import_httpx() -> None:
    import httpx  # noqa: F401


def _detail(raw: bytes) -> str:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw[:300].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(body)[:300]


def status_error(status: int, raw: bytes, label: str, retry_after: str | None = None) -> OuiError:
    """The domain error of an upstream's error answer."""
    detail = _detail(raw) or f"HTTP {status}"
    message = f"The server at {label} answered {status}: {detail}"
    reason = f"upstream_{status}"
    if status in (400, 422):
        return InvalidInput(message, reason=reason)
    if status == 413:
        return PayloadTooLarge(message, reason=reason)
    if status == 429:
        try:
            wait = int(float(retry_after or "5"))
        except ValueError:
            wait = 5
        return RateLimited(message, retry_after=wait, reason=reason)
    return ProviderError(message, reason=reason)


def transport_error(exc: BaseException, label: str) -> ProviderError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"The server at {label} did not answer in time")
    if isinstance(exc, httpx.ConnectError):
        return ProviderError(f"Cannot reach the server at {label}", reason="upstream_unreachable")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return ProviderError(
            f"The connection to the server at {label} broke", reason="upstream_stream_cut"
        )
    return ProviderError(f"The server at {label} failed: {exc}", reason="upstream_error")


def _filename(name: str, content_type: str) -> str:
    """A file name safe inside a multipart header (quotes and line breaks never pass)."""
    clean = _FILENAME_UNSAFE.sub("_", name or "").strip(" .")[:120]
    if clean:
        return clean
    subtype = re.match(r"[A-Za-z0-9.+-]*", [*content_type.split("/", 1), ""][1])
    return f"audio.{subtype.group(0) if subtype and subtype.group(0) else 'bin'}"


def form_head(
    boundary: str, fields: Iterable[tuple[str, str]], filename: str, content_type: str
) -> bytes:
    """A ``multipart/form-data`` body up to the file's content: ``fields``, then the file's
    part headers (a safe name and type: quotes and line breaks never pass)."""
    head = form_fields(boundary, fields)
    base_type = (content_type or "").split(";", 1)[0].strip()
    safe_type = base_type if re.match(r"^[\w.+-]+/[\w.+-]+$", base_type) else ""
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{_filename(filename, content_type)}"\r\n'
        f"Content-Type: {safe_type or 'application/octet-stream'}\r\n\r\n"
    ).encode()
    return head


def form_fields(boundary: str, fields: Iterable[tuple[str, str]]) -> bytes:
    return b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields
    )


def form_tail(boundary: str, fields: Iterable[tuple[str, str]] = ()) -> bytes:
    """The end of the file's part, more ``fields``, the closing delimiter."""
    return b"\r\n" + form_fields(boundary, fields) + f"--{boundary}--\r\n".encode()


_END = object()


class FormUpload:
    """A ``multipart/form-data`` upload whose file is relayed while it is received: ``put``
    its pieces (waiting while the endpoint reads slower), then ``finish`` for the answer's
    JSON. Sent chunked: its length is not known until the file ends."""

    def __init__(
        self,
        upstream: MediaUpstream,
        ep: Endpoint,
        path: str,
        fields: Iterable[tuple[str, str]],
        filename: str,
        content_type: str,
        *,
        queue_size: int = 8,
    ) -> None:
        self.boundary = uuid.uuid4().hex
        self._head = form_head(self.boundary, fields, filename, content_type)
        self._trailing: list[tuple[str, str]] = []
        self._queue: asyncio.Queue[Any] = asyncio.Queue(queue_size)
        self._task = asyncio.ensure_future(
            upstream.post_form(
                ep, path, f"multipart/form-data; boundary={self.boundary}", self._body()
            )
        )

    async def _body(self) -> AsyncIterator[bytes]:
        yield self._head
        while (piece := await self._queue.get()) is not _END:
            yield piece
        yield form_tail(self.boundary, self._trailing)

    async def _put(self, item: Any) -> None:
        if self._task.done():
            return  # the endpoint answered already (an error): nothing more to send
        put = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({put, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()

    async def put(self, piece: bytes) -> None:
        await self._put(piece)

    async def finish(self, fields: Iterable[tuple[str, str]] = ()) -> Any:
        """End the file (``fields`` after it); the endpoint's answer."""
        self._trailing = list(fields)
        await self._put(_END)
        return await self._task

    def abort(self) -> None:
        """Stop the upload (the endpoint sees the request cut)."""
        self._task.cancel()
        self._task.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


@dataclass
class Streamed:
    """An upstream answer being relayed: its content type and its chunks."""

    content_type: str
    chunks: AsyncIterator[bytes]


class MediaUpstream:
    """One ``httpx.AsyncClient`` for every media endpoint (they change with the settings)."""

    def __init__(self, *, timeout: float = 120.0, connect_timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._client: Any = None

    async def client(self) -> Any:
        if self._client is None:
            if "httpx" not in sys.modules:
                await asyncio.to_thread(_import_httpx)
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @asynccontextmanager
    async def _send(self, method: str, url: str, label: str, **kwargs: Any) -> AsyncIterator[Any]:
        """The response of a request, unread; an error answer raised as its domain error."""
        client = await self.client()
        try:
            request = client.build_request(method, url, **kwargs)
            response = await client.send(request, stream=True)
        except Exception as exc:
            raise transport_error(exc, label) from None
        try:
            if response.status_code >= 400:
                raw = await self._read(response, ERROR_BODY_LIMIT, label, truncate=True)
                raise status_error(
                    response.status_code, raw, label, response.headers.get("retry-after")
                )
            yield response
        finally:
            await response.aclose()

    @staticmethod
    async def _read(response: Any, limit: int, label: str, *, truncate: bool = False) -> bytes:
        """The body, at most ``limit`` bytes (``truncate``: cut there; else a 502 past it)."""
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    if truncate:
                        break
                    raise ProviderError(
                        f"The server at {label} answered more than {limit} bytes",
                        reason="upstream_too_large",
                    )
        except OuiError:
            raise
        except Exception as exc:
            raise transport_error(exc, label) from None
        return b"".join(chunks)[:limit] if truncate else b"".join(chunks)

    async def post_json(self, ep: Endpoint, path: str, body: Any, limit: int) -> Any:
        """``POST`` JSON, the answer's JSON (decoded off the loop: it may hold images)."""
        async with self._send(
            "POST", ep.url(path), ep.base_url, json=body, headers=ep.headers()
        ) as response:
            raw = await self._read(response, limit, ep.base_url)
        try:
            return await asyncio.to_thread(msgspec.json.decode, raw)
        except msgspec.DecodeError:
            raise ProviderError(
                f"The server at {ep.base_url} answered invalid JSON", reason="upstream_bad_json"
            ) from None

    async def get_json(self, ep: Endpoint, path: str, timeout: float) -> Any:
        async with self._send(
            "GET", ep.url(path), ep.base_url, headers=ep.headers(), timeout=timeout
        ) as response:
            raw = await self._read(response, 4 * 1024 * 1024, ep.base_url)
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise ProviderError(f"The server at {ep.base_url} answered invalid JSON") from None

    async def get_bytes(self, url: str, limit: int) -> tuple[bytes, str]:
        """A file an upstream answered with the URL of (an image), within ``limit`` bytes."""
        if not url.startswith(("http://", "https://")):
            raise ProviderError("The images server answered a URL that is not http(s)")
        label = url.split("?", 1)[0][:200]
        async with self._send("GET", url, label) as response:
            data = await self._read(response, limit, label)
            return data, response.headers.get("content-type", "")

    async def post_form(
        self,
        ep: Endpoint,
        path: str,
        content_type: str,
        body: AsyncIterator[bytes],
        limit: int = 4 * 1024 * 1024,
    ) -> Any:
        """``POST`` a form streamed from ``body``; the answer's JSON (a plain-text answer,
        as ``response_format`` text/srt/vtt gives, as ``{"text"}``)."""
        headers = {**ep.headers(), "Content-Type": content_type}
        async with self._send(
            "POST", ep.url(path), ep.base_url, content=body, headers=headers
        ) as response:
            raw = await self._read(response, limit, ep.base_url)
            answered_type = response.headers.get("content-type", "")
        if "json" not in answered_type and not raw.lstrip().startswith(b"{"):
            return {"text": raw.decode("utf-8", "replace")}
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise ProviderError(
                f"The server at {ep.base_url} answered invalid JSON", reason="upstream_bad_json"
            ) from None

    @asynccontextmanager
    async def stream_post(self, ep: Endpoint, path: str, body: Any) -> AsyncIterator[Streamed]:
        """``POST`` JSON and relay the answer as it comes (errors before it: raised)."""
        async with self._send(
            "POST", ep.url(path), ep.base_url, json=body, headers=ep.headers()
        ) as response:
            label = ep.base_url

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in response.aiter_bytes():
                        yield chunk
                except Exception as exc:
                    raise transport_error(exc, label) from None

            yield Streamed(response.headers.get("content-type", ""), chunks())
