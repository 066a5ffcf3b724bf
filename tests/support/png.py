"""Real PNG files made with zlib and struct (no imaging library needed)."""

from __future__ import annotations

import os
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(width: int, height: int, pixels: bytes) -> bytes:
    """An 8-bit RGB PNG of ``pixels`` (``width * height * 3`` bytes, row by row)."""
    assert len(pixels) == width * height * 3
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def solid_png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    return png(width, height, bytes(rgb) * (width * height))


def noise_png(approx_bytes: int) -> bytes:
    """A PNG of random pixels (incompressible): about ``approx_bytes`` long."""
    side = max(1, int((approx_bytes / 3) ** 0.5))
    return png(side, side, os.urandom(side * side * 3))
