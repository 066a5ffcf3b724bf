"""Fixtures of the images and audio tests: a server whose only connection is the scripted
media upstream, and multipart uploads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from chat.helpers import scripted_settings


def media_settings(base_url: str, **extra: Any) -> dict[str, Any]:
    """The chat tests' settings with the scripted media upstream as the only connection."""
    return scripted_settings(
        base_url, index_workspace=False, admin_users={"alice"}, media_timeout=1.0, **extra
    )


#: a server with no OpenAI connection (the images and audio variables alone configure them)
NO_CONNECTION: dict[str, Any] = {
    **media_settings(""),
    "openai_api_base_urls": [],
    "openai_api_keys": [],
}


def multipart_body(
    files: list[tuple[str, str, str, bytes]], fields: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """``(body, content type)`` of a form with ``fields`` and ``(field, filename, type, data)``."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in (fields or {}).items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for field, filename, content_type, data in files:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def upload(api: Any) -> Any:
    """``await upload(data, filename=..., fields=...)``: POST v1/audio/transcriptions."""

    async def send(
        data: bytes,
        *,
        filename: str = "clip.wav",
        content_type: str = "audio/wav",
        fields: dict[str, str] | None = None,
        user: str = "alice",
    ) -> Any:
        body, kind = multipart_body([("file", filename, content_type, data)], fields)
        return await api(
            "POST", "v1/audio/transcriptions", raw=body, headers={"Content-Type": kind}, user=user
        )

    return send
