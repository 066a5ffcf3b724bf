"""The WebSocket ``oui/api/events``: live chat events for every socket of the user.

Frames queued in one turn of the event loop leave in one write: with 200 answers streaming,
tornado's ``write_message`` (a task and a ``send`` per frame) cost a fifth of the server's
time, and batching adapts to load by itself (an idle server still sends each frame at once).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any, ClassVar

import msgspec
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado.iostream import StreamBufferFullError, StreamClosedError
from tornado.websocket import WebSocketHandler

from oui_jupyter.handlers.base import AUTH_RESOURCE, Operation, authorize_socket, resolve_caller
from oui_jupyter.jsonlimits import MAX_JSON_DEPTH, json_depth_exceeds
from oui_jupyter.runtime import Services
from oui_jupyter.services.users import UserInfo

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

# What may wait for a client that does not read (a suspended laptop, a hung tab): past this,
# its socket is dropped instead of holding every frame in memory; on reconnecting, the client
# reads its chats again (they are saved, partial answers included).
MAX_UNSENT_BYTES = 16 * 1024 * 1024


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked, uncompressed text frame (RFC 6455, 5.2): a server's frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class EventsHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Server -> client: ``{"type", "chat_id"?, "message_id"?, "data"}`` frames (see API.md).
    Client -> server: ``{"type": "ping"}`` (answered ``pong``) and
    ``{"type": "chat:stop", "chat_id"}``. A malformed frame gets an ``error`` frame."""

    auth_resource = AUTH_RESOURCE
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("WebSocket of live events (chat:completion, chat:title, status...)")
    }
    services: Services
    user: UserInfo
    _registered = False
    _outbox: list[str]

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await authorize_socket(self)
        self.services, self.user = await resolve_caller(self, activate=True)
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        # Deltas are small frames that must go out at once: without this, Nagle's algorithm
        # holds each one until the client acknowledged the previous (up to 40 ms).
        self.set_nodelay(True)
        if self.ws_connection is not None and self.ws_connection.stream is not None:
            self.ws_connection.stream.max_write_buffer_size = MAX_UNSENT_BYTES
        self._outbox = []
        self.services.events.add(self.user.id, self)
        self._registered = True

    def on_close(self) -> None:
        super().on_close()
        if self._registered:
            self.services.events.remove(self.user.id, self)
            self._registered = False

    def get_compression_options(self) -> None:
        """No permessage-deflate: ``_send_outbox`` writes plain frames."""
        return None

    def send_frame(self, frame: str) -> None:
        """Queue one frame; the frames queued in this turn of the loop leave together."""
        if not self._registered:
            return
        self._outbox.append(frame)
        if len(self._outbox) == 1:
            asyncio.get_running_loop().call_soon(self._send_outbox)

    def _send_outbox(self) -> None:
        frames, self._outbox = self._outbox, []
        protocol = self.ws_connection
        if protocol is None or protocol.is_closing() or protocol.stream is None:
            return
        try:
            protocol.stream.write(b"".join(text_frame(frame.encode()) for frame in frames))
        except StreamClosedError:
            self.on_close()
        except StreamBufferFullError:
            log.warning(
                "oui: dropping the events socket of %s: it has stopped reading", self.user.id
            )
            protocol.stream.close()  # tornado then calls on_close

    def _error(self, message: str) -> None:
        self.send_frame(_encode({"type": "error", "data": {"message": message}}).decode())

    def on_message(self, message: str | bytes) -> None:
        if json_depth_exceeds(message):
            self._error(f"Malformed frame: nested deeper than {MAX_JSON_DEPTH} arrays/objects")
            return
        try:
            frame = msgspec.json.decode(message)
        except (msgspec.DecodeError, RecursionError):
            self._error("Malformed frame: not JSON")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self._error("Malformed frame: expected an object with a string `type`")
            return
        kind = frame["type"]
        if kind == "ping":
            self.send_frame('{"type":"pong"}')
        elif kind == "chat:stop":
            chat_id = frame.get("chat_id")
            if not isinstance(chat_id, str) or not chat_id:
                self._error("chat:stop needs a chat_id")
                return
            tasks = self.services.tasks
            if tasks.bus is None:
                self._stopped(chat_id, tasks.stop_chat(self.user.id, chat_id))
            else:  # the turn may run in another replica
                stop = asyncio.ensure_future(tasks.stop_everywhere(self.user.id, chat_id))
                stop.add_done_callback(lambda done: self._stopped(chat_id, done.result()))
        else:
            self._error(f"Unknown frame type: {kind}")

    def _stopped(self, chat_id: str, task_ids: list[str]) -> None:
        self.send_frame(
            _encode(
                {"type": "chat:stop", "chat_id": chat_id, "data": {"task_ids": task_ids}}
            ).decode()
        )
