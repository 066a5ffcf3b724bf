"""A streaming chat turn: the events of its stream become text deltas and a final message.

:class:`Turn` reads the events; :class:`SyncTurn` and :class:`AsyncTurn` only differ in how
they pull the stream's lines.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from itertools import chain
from typing import Any

from oui_jupyter.notebook.client.errors import ApiError
from oui_jupyter.notebook.client.sse import SSEParser

# An empty line after the stream's last one ends an event the server left unterminated.
_END = ("",)


class Turn:
    """A streaming chat turn: iterate for text deltas; ``message`` is the final answer."""

    def __init__(self) -> None:
        self.content = ""
        self.message: dict[str, Any] | None = None
        self.error: str | None = None
        self.done = False
        # Tool calls that waited for the user's decision (the status chunks with action
        # "approval": {"description", "call_id", "chat_id", "message_id"}); ``on_approval``
        # is called with each as it comes (the server waits until the decision is posted).
        self.approvals: list[dict[str, Any]] = []
        self.on_approval: Callable[[dict[str, Any]], object] | None = None

    def _line(self, parser: SSEParser, line: str) -> str | None:
        """Feed one line of the stream; the text it adds (``None`` for none)."""
        data = parser.feed(line)
        return None if data is None else self._event(data)

    @property
    def _over(self) -> bool:
        """The final message has come: the rest of the stream is not read."""
        return self.done and self.message is not None

    def _event(self, data: str) -> str | None:
        """Apply one SSE payload; returns the text it adds (``None`` for none)."""
        if data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            event = json.loads(data)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        status = event.get("status")
        if (
            isinstance(status, dict)
            and status.get("action") == "approval"
            and not status.get("done")
        ):
            self.approvals.append(status)
            if self.on_approval is not None:
                self.on_approval(status)
            return None
        if event.get("error"):
            error = event["error"]
            if isinstance(error, dict):
                error = error.get("message") or error.get("content") or error.get("detail") or error
            self.error = str(error)
            return None
        final = event.get("message") if isinstance(event.get("message"), dict) else None
        if final is None and event.get("role") == "assistant" and "choices" not in event:
            final = event
        if final is not None:
            self.message = final
            text = str(final.get("content") or "")
            extra = text[len(self.content) :] if text.startswith(self.content) else ""
            self.content = text if text else self.content
            if final.get("done", True):
                self.done = True
            return extra or None
        text = ""
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            text += str(delta.get("content") or "")
        if not text and isinstance(event.get("data"), dict):  # socket-style frame
            frame = event["data"]
            if "content" in frame and isinstance(frame["content"], str):
                text = frame["content"][len(self.content) :]
            else:
                text = str(frame.get("delta") or "")
        if text:
            self.content += text
            return text
        return None

    def _finish(self) -> None:
        if self.error:
            raise ApiError(f"oui: the model failed: {self.error}")
        if self.message is None:
            self.message = {"role": "assistant", "content": self.content, "done": True}
        self.done = True


class SyncTurn(Turn):
    def __init__(self, lines: Iterator[str], close: Callable[[], object]) -> None:
        super().__init__()
        self._lines = lines
        self._close = close

    def __iter__(self) -> Iterator[str]:
        parser = SSEParser()
        try:
            for line in chain(self._lines, _END):
                if text := self._line(parser, line):
                    yield text
                if self._over:
                    break
        finally:
            self._close()
        self._finish()

    def wait(self) -> dict[str, Any]:
        """Read the rest of the stream; the final message."""
        for _ in self:
            pass
        assert self.message is not None
        return self.message


class AsyncTurn(Turn):
    def __init__(self, lines: AsyncIterator[str], close: Callable[[], Awaitable[object]]) -> None:
        super().__init__()
        self._lines = lines
        self._close = close

    async def _lines_then_end(self) -> AsyncIterator[str]:
        async for line in self._lines:
            yield line
        for line in _END:
            yield line

    async def __aiter__(self) -> AsyncIterator[str]:
        parser = SSEParser()
        try:
            async for line in self._lines_then_end():
                if text := self._line(parser, line):
                    yield text
                if self._over:
                    break
        finally:
            await self._close()
        self._finish()

    async def wait(self) -> dict[str, Any]:
        async for _ in self:
            pass
        assert self.message is not None
        return self.message
