"""What a turn is doing before its first token, as Open WebUI's ``status`` events.

``{"description": "Searching the workspace…", "done": false}`` goes to the user's sockets when
the turn is in a chat (a ``status`` frame with its chat and message ids) and to ``sink`` when
an SSE stream listens (a ``chat.completion.chunk`` with ``choices: []`` and ``status``, which
the ``openai`` client reads past). The first token ends it: the last status is sent once more
with ``done: true``. A turn that had nothing to say sends nothing. A tool round after the first
token ``resume``s it: its statuses ("Running read_file…") go out the same way and the round's
first token ends them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oui_jupyter.services.events import EventHub

# Called with each status chunk (a dict) of an SSE stream; it must not block.
StatusSink = Callable[[dict[str, Any]], None]

SEARCHING_WORKSPACE = "Searching the workspace…"
SEARCHING_SOURCES = "Searching the sources…"
NO_SOURCES = "No sources found"
STARTING_LOCAL_MODEL = "Starting the local model…"


def reading(count: int) -> str:
    return f"Reading {count} source{'' if count == 1 else 's'}…"


class TurnStatus:
    def __init__(
        self,
        hub: EventHub | None,
        user_id: str,
        *,
        model: str,
        chat_id: str | None = None,
        message_id: str | None = None,
        sink: StatusSink | None = None,
    ) -> None:
        self.hub = hub
        self.user_id = user_id
        self.model = model
        self.chat_id = chat_id
        self.message_id = message_id
        self.sink = sink
        self.last: str | None = None
        self.finished = False
        self.created = int(time.time())

    def say(self, description: str, **extra: Any) -> None:
        """``extra``: more keys of the status (an approval's ``action`` and ids)."""
        if self.finished or (description == self.last and not extra):
            return
        self.last = description
        self._send({"description": description, "done": False, **extra})

    def resume(self) -> None:
        """Statuses may go out again (a tool round after the first token)."""
        self.finished = False
        self.last = None

    def finish(self) -> None:
        """The first token came (or the turn ended): the last status is done."""
        if self.finished:
            return
        self.finished = True
        if self.last is not None:
            self._send({"description": self.last, "done": True})

    def _send(self, data: dict[str, Any]) -> None:
        if self.hub is not None and self.chat_id is not None:
            self.hub.emit(
                self.user_id, "status", data, chat_id=self.chat_id, message_id=self.message_id
            )
        if self.sink is not None:
            chunk = {
                "id": f"chatcmpl-{self.message_id}" if self.message_id else "chatcmpl-status",
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "status": data,
            }
            try:
                self.sink(chunk)
            except Exception:  # a client gone: the answer's own sink notices it
                self.sink = None
