"""The events WebSocket of a team client server: a relay to the service's ``oui/api/events``.

Frames go both ways unchanged; the local workspace index's ``index:progress`` events are
added. When the service cannot be reached the socket still opens, says so in an ``error``
frame (``data.team_service: "unreachable"``), retries with backoff (0.5 s doubling to 10 s)
and sends ``status`` (``data.team_service: "connected"``) once it relays again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import msgspec
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, WebSocketHandler

from oui_jupyter.handlers.base import AUTH_RESOURCE, Operation, authorize_socket
from oui_jupyter.team.client.runtime import ClientRuntime
from oui_jupyter.team.client.upstream import UNREACHABLE

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
FIRST_RETRY = 0.5
MAX_RETRY = 10.0
#: Frames a client sends while the first connection to the service is being made wait for it.
MAX_PENDING = 64


class RelayEventsHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    auth_resource = AUTH_RESOURCE
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("WebSocket of live events, relayed from the team service")
    }
    _upstream: WebSocketClientConnection | None = None
    _task: asyncio.Task[None] | None = None
    _closed = False
    _down = False
    _pending: list[str | bytes]

    @property
    def client(self) -> ClientRuntime:
        return self.settings["oui_runtime"]

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await authorize_socket(self)
        await self.client.ready()
        self.client.activate()
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.set_nodelay(True)
        self._pending = []
        self.client.sockets.add(self)
        self._task = asyncio.get_running_loop().create_task(self._relay_upstream())

    def get_compression_options(self) -> None:
        return None

    def send_local(self, frame: str) -> None:
        if self._closed:
            return
        try:
            self.write_message(frame)
        except WebSocketClosedError:
            self.on_close()

    def _say(self, kind: str, data: dict[str, Any]) -> None:
        self.send_local(_encode({"type": kind, "data": data}).decode())

    async def _connect(self) -> WebSocketClientConnection:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        settings = self.client.settings
        request = HTTPRequest(
            settings.events_url(),
            headers={"Authorization": settings.authorization},
            connect_timeout=settings.connect_timeout,
            request_timeout=settings.connect_timeout,
        )
        return await websocket_connect(request, ping_interval=30)

    async def _relay_upstream(self) -> None:
        delay = FIRST_RETRY
        while not self._closed:
            try:
                upstream = await self._connect()
            except Exception as error:  # refused, timed out, 503 from the proxy...
                if not self._down:
                    log.warning("oui: team events socket unreachable: %r", error)
                    self._went_down()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY)
                continue
            if self._closed:
                upstream.close()
                return
            self._upstream = upstream
            delay = FIRST_RETRY
            if self._down:
                self._say("status", {"team_service": "connected"})
                self._down = False
            pending, self._pending = self._pending, []
            for frame in pending:
                upstream.write_message(frame)
            while True:
                message = await upstream.read_message()
                if message is None or self._closed:
                    break
                self.send_local(message if isinstance(message, str) else message.decode())
            self._upstream = None
            if not self._closed:  # the service went away: say so, then reconnect
                self._went_down()

    def _went_down(self) -> None:
        self._down = True
        self._pending = []
        self._say("error", {"message": UNREACHABLE, "team_service": "unreachable"})

    def on_message(self, message: str | bytes) -> None:
        upstream = self._upstream
        if upstream is None:
            if not self._down and len(self._pending) < MAX_PENDING:
                self._pending.append(message)  # the first connection is being made
                return
            self._say("error", {"message": UNREACHABLE, "team_service": "unreachable"})
            return
        try:
            upstream.write_message(message)
        except WebSocketClosedError:
            self._say("error", {"message": UNREACHABLE, "team_service": "unreachable"})

    def on_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        super().on_close()
        self.client.sockets.discard(self)
        if self._task is not None:
            self._task.cancel()
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None
