"""Generated images as a cell's outputs: image MIME bundles made from the image's bytes,
whose type is read from those bytes (never from what the server or upstream says)."""

from __future__ import annotations

import base64
from typing import Any

from oui_jupyter.image_types import image_type


def image_bundle(data: bytes, prompt: str, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data, metadata)`` of a display: the image alone (no HTML), the prompt as its text."""
    mime = image_type(data)
    if mime is None:
        raise ValueError("not a PNG, JPEG, GIF or WebP image")
    bundle = {mime: base64.b64encode(data).decode("ascii"), "text/plain": f"<image: {prompt[:80]}>"}
    return bundle, {"oui": {"prompt": prompt, "url": url}}
