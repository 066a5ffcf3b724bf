"""The ``text/event-stream`` framing of a streamed chat turn."""

from __future__ import annotations


class SSEParser:
    """Incremental ``text/event-stream`` parser: feed lines, get ``data`` payloads."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None
