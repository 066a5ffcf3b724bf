"""The WebSocket hub: every open socket of every user, and batched streaming deltas.

Frames are JSON ``{"type", "chat_id"?, "message_id"?, "data"}`` sent to every socket of one
user, never to anyone else's. Deltas of a streaming answer are batched: the first goes out at
once, later ones at most every ``batch_ms`` milliseconds, each batch as one
``chat:completion`` frame ``{"delta": text, "offset": n}`` (``offset`` = where ``delta``
starts in the full answer, so a client that re-read the chat can drop what it already has).

With a ``relay`` (the team service's replicas: ``oui_jupyter.team.bus``), every frame is also
published to the other replicas, which ``deliver`` it to their own sockets of the user; a
replica never hears its own frames back, so each socket gets each frame once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Socket(Protocol):
    def send_frame(self, frame: str) -> None:
        """Queue one text frame; must not raise when the socket has gone."""


class Relay(Protocol):
    def publish(self, kind: str, header: dict[str, Any] | None = None, body: str = "") -> None:
        """Send to the other replicas; from any thread, never blocking."""


@dataclass
class _Stream:
    parts: list[str] = field(default_factory=list)
    offset: int = 0  # where the first pending part starts
    sent_at: float = 0.0
    timer: asyncio.TimerHandle | None = None


class EventHub:
    def __init__(self, batch_ms: float = 30.0) -> None:
        self.batch = max(batch_ms, 0.0) / 1000
        self._sockets: dict[str, set[Socket]] = defaultdict(set)
        self._streams: dict[tuple[str, str, str], _Stream] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.relay: Relay | None = None

    # ----- sockets -----
    def add(self, user_id: str, socket: Socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._sockets[user_id].add(socket)

    def remove(self, user_id: str, socket: Socket) -> None:
        sockets = self._sockets.get(user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[user_id]

    def count(self, user_id: str) -> int:
        return len(self._sockets.get(user_id, ()))

    # ----- frames -----
    def emit(
        self,
        user_id: str,
        type_: str,
        data: Any,
        *,
        chat_id: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """One frame to the user's sockets (and the relay's); from a worker thread it is
        handed to the loop."""
        relay = self.relay
        if relay is None and not self._sockets.get(user_id):
            return
        loop = self._loop
        if relay is None and loop is not None and not _running_on(loop):
            loop.call_soon_threadsafe(
                functools.partial(
                    self.emit, user_id, type_, data, chat_id=chat_id, message_id=message_id
                )
            )
            return
        frame: dict[str, Any] = {"type": type_}
        if chat_id is not None:
            frame["chat_id"] = chat_id
        if message_id is not None:
            frame["message_id"] = message_id
        frame["data"] = data
        text = _encode(frame).decode()
        if relay is not None:
            relay.publish("event", {"u": user_id}, text)
            if loop is not None and not _running_on(loop):
                if self._sockets.get(user_id):
                    loop.call_soon_threadsafe(self.deliver, user_id, text)
                return
        self.deliver(user_id, text)

    def deliver(self, user_id: str, text: str) -> None:
        """On the loop: one encoded frame to this process's sockets of the user."""
        for socket in list(self._sockets.get(user_id, ())):
            socket.send_frame(text)

    def broadcast_all(self, frame: dict[str, Any]) -> None:
        """One frame to every socket of every user (server-wide news such as index progress)."""
        text = _encode(frame).decode()
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                socket.send_frame(text)

    def index_progress(self, data: dict[str, Any]) -> None:
        """``index:progress`` to every socket; safe to call from the indexer's threads."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no socket has ever connected: nobody to tell
        loop.call_soon_threadsafe(self.broadcast_all, {"type": "index:progress", "data": data})

    def delta(self, user_id: str, chat_id: str, message_id: str, text: str, offset: int) -> None:
        """Queue ``text`` (which starts at ``offset`` of the answer) for the user's sockets."""
        if (self.relay is None and user_id not in self._sockets) or not text:
            return
        key = (user_id, chat_id, message_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        if not stream.parts:
            stream.offset = offset
        stream.parts.append(text)
        if stream.timer is not None:
            return
        wait = stream.sent_at + self.batch - time.monotonic()
        if wait <= 0:
            self._flush(key)
        else:
            stream.timer = asyncio.get_running_loop().call_later(wait, self._flush, key)

    def _flush(self, key: tuple[str, str, str]) -> None:
        stream = self._streams.get(key)
        if stream is None:
            return
        stream.timer = None
        stream.sent_at = time.monotonic()
        if not stream.parts:
            return
        text = "".join(stream.parts)
        stream.parts.clear()
        user_id, chat_id, message_id = key
        self.emit(
            user_id,
            "chat:completion",
            {"delta": text, "offset": stream.offset},
            chat_id=chat_id,
            message_id=message_id,
        )

    def end_stream(self, user_id: str, chat_id: str, message_id: str) -> None:
        """Send what is pending now and forget the stream (before its final frame)."""
        key = (user_id, chat_id, message_id)
        stream = self._streams.get(key)
        if stream is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
        self._flush(key)
        self._streams.pop(key, None)
