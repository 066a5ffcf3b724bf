"""Forwarding an ``oui/api/...`` request to the team service, streaming its answer back.

The caller is authenticated here first, as on every oui route (``@web.authenticated``,
``@authorized``, XSRF for cookie sessions); the service then sees this server's hub token,
never the caller's cookies or tokens. Server-Sent Events are written and flushed chunk by
chunk as they arrive; other bodies pass through whole, status and JSON errors unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from oui_jupyter.handlers.base import AUTH_RESOURCE, OPENAI_KEY_PATHS, OpenAIKeyAuth, Operation
from oui_jupyter.team.client.runtime import ClientRuntime
from oui_jupyter.team.client.upstream import RESPONSE_HEADERS, unreachable_body

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
#: uploads: limited by the upload size (the service applies its own limits)
UPLOAD_PATHS = frozenset({"v1/files", "v1/audio/transcriptions"})


class ClientHandler(OpenAIKeyAuth):
    """Base of the routes of a team client server (``routes.CLIENT_ROUTES``). On the
    OpenAI-compatible paths a caller without a valid key gets 401, as on a lone server."""

    auth_resource = AUTH_RESOURCE
    api: ClassVar[dict[str, Operation]] = {}

    @property
    def client(self) -> ClientRuntime:
        return self.settings["oui_runtime"]

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(_encode(value))

    def write_error_json(self, status: int, message: str, reason: str = "") -> None:
        self.write_json({"detail": message, "message": message, "reason": reason}, status)

    def body_limit(self, path: str) -> int:
        if path.rstrip("/") in UPLOAD_PATHS:
            return self.client.max_upload_size
        return self.client.max_body_size

    def api_path(self) -> str:
        """The request's path after ``{base_url}oui/api/``, as the caller wrote it."""
        marker = "/oui/api/"
        path = self.request.path
        at = path.find(marker, max(len(self.base_url) - 1, 0))
        return path[at + len(marker) :] if at >= 0 else ""

    def openai_key_route(self) -> bool:
        return self.api_path() in OPENAI_KEY_PATHS

    # ----- forwarding -----
    _client_gone = False
    _response: Any = None
    #: told the service's status once it answers (503 when unreachable): a turn's tool
    #: channel starts or stops by it (``tool_channel.ChannelServer.answered``)
    on_upstream_status: Callable[[int], None] | None = None

    def on_connection_close(self) -> None:
        self._client_gone = True
        response = self._response
        if response is not None:  # stop reading: the service sees its client go
            asyncio.get_running_loop().create_task(response.aclose())
        super().on_connection_close()

    async def forward(self, body: bytes | None = None) -> None:
        """Send this request to the service (``body`` in place of the request's own) and
        stream the answer back."""
        import httpx

        path = self.api_path()
        raw = self.request.body if body is None else body
        limit = self.body_limit(path)
        if len(raw) > limit:
            self.write_error_json(
                413, f"Request body is {len(raw)} bytes; the limit is {limit}", "too_large"
            )
            return
        upstream = self.client.upstream
        try:
            response = await upstream.send(
                self.request.method or "GET",
                path,
                self.request.query,
                raw,
                upstream.headers(self.request.headers),
            )
        except httpx.TransportError as error:
            log.warning(
                "oui: team service unreachable (%s %s): %r", self.request.method, path, error
            )
            if self.on_upstream_status is not None:
                self.on_upstream_status(503)
            self.write_json(unreachable_body(), 503)
            return
        if self.on_upstream_status is not None:
            self.on_upstream_status(response.status_code)
        self._response = response
        try:
            await self._relay(response)
        finally:
            self._response = None
            await response.aclose()

    async def _relay(self, response: Any) -> None:
        import httpx

        self.set_status(response.status_code, response.reason_phrase or None)
        self.clear_header("Content-Type")
        for name in RESPONSE_HEADERS:
            value = response.headers.get(name)
            if value is not None:
                self.set_header(name, value)
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        if streaming:
            # Each chunk is one small write: out at once, not held back by Nagle's algorithm.
            self.request.connection.stream.set_nodelay(True)  # type: ignore[union-attr]
        try:
            async for chunk in response.aiter_raw():
                if self._client_gone:
                    return
                self.write(chunk)
                if streaming:
                    await self.flush()
        except (StreamClosedError, httpx.StreamClosed):
            return
        except httpx.TransportError as error:
            log.warning("oui: the team service dropped an answer: %r", error)
            if self._client_gone:
                return
            if not streaming and not self._headers_written:
                self.clear()
                self.write_json(unreachable_body(), 503)
                return
            if streaming:  # the client reads SSE: say it as an event, then end the stream
                error_event = {"error": {**unreachable_body(), "code": 503}}
                self.write(b"data: " + _encode(error_event) + b"\n\ndata: [DONE]\n\n")
        if not self._finished:
            try:
                self.finish()
            except StreamClosedError:
                return


class ForwardHandler(ClientHandler):
    """Every ``oui/api/...`` route the client does not answer itself."""

    @web.authenticated
    @authorized
    async def get(self, path: str = "") -> None:
        await self.forward()

    @web.authenticated
    @authorized
    async def head(self, path: str = "") -> None:
        await self.forward()

    @web.authenticated
    @authorized
    async def post(self, path: str = "") -> None:
        await self.forward()

    @web.authenticated
    @authorized
    async def put(self, path: str = "") -> None:
        await self.forward()

    @web.authenticated
    @authorized
    async def patch(self, path: str = "") -> None:
        await self.forward()

    @web.authenticated
    @authorized
    async def delete(self, path: str = "") -> None:
        await self.forward()
