"""Images for ``%%chat --image`` / ``--figure``: a value of the notebook as image bytes.

Duck-typed like ``context.py``: nothing here imports PIL or matplotlib (a figure or an image
already made brings its library along). The last figure is remembered after each cell runs,
because the inline backend closes the figures it showed.
"""

from __future__ import annotations

import base64
import io
import os
import sys
from typing import Any

from oui_jupyter.notebook.client import OuiError

MAX_BYTES = 5 * 1024 * 1024  # the server's default per image (it answers 413 past its own)


def image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def data_url(data: bytes) -> str:
    mime = image_type(data)
    if mime is None:
        raise OuiError("oui: not a PNG, JPEG, GIF or WebP image")
    if len(data) > MAX_BYTES:
        raise OuiError(f"oui: the image is {len(data)} bytes; the limit is {MAX_BYTES}")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def figure_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def image_bytes(value: Any, root: str = "") -> bytes:
    """PNG (or the file's own) bytes of a PIL image, a matplotlib figure (or axes), image
    bytes, an ``IPython.display.Image``, or a path to an image file inside ``root``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        return _file_bytes(os.fspath(value), root)
    if hasattr(value, "savefig"):  # a matplotlib Figure
        return figure_png(value)
    if hasattr(value, "get_figure") and hasattr(value.get_figure(), "savefig"):  # Axes
        return figure_png(value.get_figure())
    if hasattr(value, "save") and hasattr(value, "mode") and hasattr(value, "size"):  # PIL
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return buffer.getvalue()
    data = getattr(value, "data", None)  # IPython.display.Image
    if isinstance(data, bytes):
        return data
    raise OuiError(
        f"oui: --image: {type(value).__name__} is not an image (give a PIL image, a "
        "matplotlib figure, PNG/JPEG bytes or a file path)"
    )


def _file_bytes(path: str, root: str) -> bytes:
    base = os.path.realpath(root or os.getcwd())
    full = os.path.realpath(os.path.join(os.getcwd(), os.path.expanduser(path)))
    if os.path.commonpath([full, base]) != base:
        raise OuiError(f"oui: --image {path}: the file is outside the server's root ({base})")
    try:
        with open(full, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as error:
        raise OuiError(f"oui: --image {path}: {error.strerror or error}") from None


class FigureMemory:
    """Keeps the last matplotlib figure a cell made (the inline backend closes it after
    showing it); ``remember`` runs after each cell, before that backend's own hook."""

    def __init__(self) -> None:
        self.last: Any = None

    def remember(self, *_args: Any) -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        numbers = pyplot.get_fignums()
        if numbers:
            self.last = pyplot.figure(numbers[-1])

    def current(self) -> Any:
        """The open figure, else the last one remembered."""
        self.remember()
        if self.last is None:
            raise OuiError("oui: --figure: no matplotlib figure yet (plot one in a cell first)")
        return self.last

    def install(self, shell: Any) -> None:
        callbacks = shell.events.callbacks["post_execute"]
        if self.remember not in callbacks:
            # First: matplotlib-inline's own post_execute hook closes the figures.
            callbacks.insert(0, self.remember)

    def uninstall(self, shell: Any) -> None:
        callbacks = shell.events.callbacks["post_execute"]
        if self.remember in callbacks:
            callbacks.remove(self.remember)
