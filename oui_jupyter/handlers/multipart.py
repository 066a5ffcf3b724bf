"""A ``multipart/form-data`` body with one file, read without copying the file's bytes."""

from __future__ import annotations

from dataclasses import dataclass

from tornado import httputil

from oui_jupyter.errors import InvalidInput, MalformedRequest

MAX_FIELD = 4096  # the longest text field kept (language, prompt...)


@dataclass
class Upload:
    filename: str
    content_type: str
    data: memoryview


def boundary_of(content_type: str) -> bytes:
    kind, params = httputil._parse_header(content_type or "")
    if kind.lower() != "multipart/form-data" or not params.get("boundary"):
        raise InvalidInput("send the audio as multipart/form-data with a field named 'file'")
    return params["boundary"].strip('"').encode("latin-1")


def parse_one_file(content_type: str, body: bytes) -> tuple[dict[str, str], Upload]:
    """The text fields and the one file (field ``file``) of a multipart body."""
    delimiter = b"--" + boundary_of(content_type)
    view = memoryview(body)
    start = body.find(delimiter)
    if start < 0:
        raise MalformedRequest("the multipart body has no part (boundary not found)")
    fields: dict[str, str] = {}
    upload: Upload | None = None
    position = start + len(delimiter)
    while True:
        if body.startswith(b"--", position):
            break  # the closing delimiter
        head_end = body.find(b"\r\n\r\n", position)
        following = body.find(b"\r\n" + delimiter, position)
        if head_end < 0 or following < 0 or head_end > following:
            raise MalformedRequest("the multipart body is cut or malformed")
        headers = httputil.HTTPHeaders.parse(body[position:head_end].decode("utf-8", "replace"))
        disposition, params = httputil._parse_header(headers.get("Content-Disposition", ""))
        name = params.get("name", "")
        content = view[head_end + 4 : following]
        if disposition == "form-data" and "filename" in params:
            if name != "file" or upload is not None:
                raise InvalidInput("send exactly one file, in the multipart field named 'file'")
            upload = Upload(params["filename"], headers.get("Content-Type", ""), content)
        elif disposition == "form-data" and name and len(content) <= MAX_FIELD:
            fields[name] = bytes(content).decode("utf-8", "replace")
        position = following + 2 + len(delimiter)
    if upload is None:
        raise InvalidInput("send exactly one file, in the multipart field named 'file'")
    return fields, upload
