"""``multipart/form-data`` read as it streams in: parts' headers and their content in pieces,
so a file can be relayed while it is still being received."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tornado import httputil

from oui_jupyter.errors import InvalidInput, MalformedRequest

MAX_HEAD = 16 * 1024  # the longest headers of one part
MAX_FIELD = 4096  # the longest text field kept (language, prompt...)


def boundary_of(content_type: str) -> bytes:
    kind, params = httputil._parse_header(content_type or "")
    if kind.lower() != "multipart/form-data" or not params.get("boundary"):
        raise InvalidInput("send the audio as multipart/form-data with a field named 'file'")
    return params["boundary"].strip('"').encode("latin-1")


def disposition(headers: httputil.HTTPHeaders) -> tuple[str, dict[str, str]]:
    """``(field name, params)`` of a part (``filename`` in params: a file)."""
    kind, params = httputil._parse_header(headers.get("Content-Disposition", ""))
    if kind != "form-data":
        return "", params
    return params.get("name", ""), params


class MultipartReader:
    """Feed the body's chunks; each ``feed`` answers what they completed, in order:
    ``("part", headers)``, ``("data", bytes)`` (a piece of that part's content), ``("end",
    None)`` (the part is over) and, once, ``("done", None)`` (the closing delimiter)."""

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")  # the first delimiter then reads like the others
        self._state = "preamble"
        self.done = False

    def feed(self, chunk: bytes | memoryview) -> list[tuple[str, Any]]:
        buffer = self._buffer
        buffer += chunk
        events: list[tuple[str, Any]] = []
        hold = len(self.delimiter) - 1  # what could be the start of a delimiter
        while True:
            state = self._state
            if state == "preamble":
                at = buffer.find(self.delimiter)
                if at < 0:
                    del buffer[: max(0, len(buffer) - hold)]
                    break
                del buffer[: at + len(self.delimiter)]
                self._state = "delimited"
            elif state == "delimited":
                if len(buffer) < 2:
                    break
                if buffer[:2] == b"--":
                    self._state, self.done = "end", True
                    events.append(("done", None))
                elif buffer[:2] != b"\r\n":
                    raise MalformedRequest("the multipart body is malformed (after a boundary)")
                else:
                    self._state = "headers"
                del buffer[:2]
            elif state == "headers":
                at = buffer.find(b"\r\n\r\n")
                if at < 0:
                    if len(buffer) > MAX_HEAD:
                        raise MalformedRequest("a multipart part's headers are too long")
                    break
                text = bytes(buffer[:at]).decode("utf-8", "replace")
                del buffer[: at + 4]
                try:
                    headers = httputil.HTTPHeaders.parse(text)
                except (httputil.HTTPInputError, ValueError):
                    raise MalformedRequest("a multipart part's headers are malformed") from None
                events.append(("part", headers))
                self._state = "body"
            elif state == "body":
                at = buffer.find(self.delimiter)
                if at >= 0:
                    if at:
                        events.append(("data", bytes(buffer[:at])))
                    del buffer[: at + len(self.delimiter)]
                    events.append(("end", None))
                    self._state = "delimited"
                    continue
                if len(buffer) > hold:
                    events.append(("data", bytes(buffer[:-hold])))
                    del buffer[:-hold]
                break
            else:  # after the closing delimiter: the epilogue is ignored
                buffer.clear()
                break
        return events


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


def parse_one_file(content_type: str, body: bytes) -> tuple[dict[str, str], Upload]:
    """The text fields and the one file (field ``file``) of a whole multipart body."""
    reader = MultipartReader(boundary_of(content_type))
    fields: dict[str, str] = {}
    upload: Upload | None = None
    name, content = "", bytearray()
    params: dict[str, str] = {}
    for kind, value in reader.feed(body):
        if kind == "part":
            name, params = disposition(value)
            content = bytearray()
            if "filename" in params:
                if name != "file" or upload is not None:
                    raise InvalidInput("send exactly one file, in the multipart field named 'file'")
                upload = Upload(params["filename"], value.get("Content-Type", ""), b"")
        elif kind == "data":
            content += value
        elif kind == "end":
            if "filename" in params and upload is not None:
                upload.data = bytes(content)
            elif name and len(content) <= MAX_FIELD:
                fields[name] = content.decode("utf-8", "replace")
    if not reader.done:
        raise MalformedRequest("the multipart body is cut or malformed")
    if upload is None:
        raise InvalidInput("send exactly one file, in the multipart field named 'file'")
    return fields, upload
