"""The image types oui accepts (PNG, JPEG, GIF, WebP), told by their first bytes: never by
a name, a header or what an upstream says. Light: the kernel-side client imports it too."""

from __future__ import annotations

#: content type -> the extension a saved image gets
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def image_type(data: bytes) -> str | None:
    """The content type of an image's bytes, or ``None`` when it is none of ours."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
