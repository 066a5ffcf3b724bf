"""Generated images as a cell's outputs: image MIME bundles made from the image's bytes,
whose type is read from those bytes (never from what the server or upstream says)."""

from __future__ import annotations

import base64
from typing import Any

FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_mime(data: bytes) -> str | None:
    """The MIME type of an image's bytes (PNG, JPEG, GIF, WebP), or ``None``."""
    for magic, mime in FORMATS:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_bundle(data: bytes, prompt: str, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data, metadata)`` of a display: the image alone (no HTML), the prompt as its text."""
    mime = image_mime(data)
    if mime is None:
        raise ValueError("not a PNG, JPEG, GIF or WebP image")
    bundle = {mime: base64.b64encode(data).decode("ascii"), "text/plain": f"<image: {prompt[:80]}>"}
    return bundle, {"oui": {"prompt": prompt, "url": url}}
