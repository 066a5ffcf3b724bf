"""How long a recording is, where its header says so cheaply (WAV: byte rate and data size).

Other formats (MP3, WebM, Ogg...) would need decoding to know: their size limit applies alone.
"""

from __future__ import annotations

import struct

from oui_jupyter.errors import InvalidInput

#: how far into a WAV file its ``fmt `` and ``data`` chunks are looked for
HEADER_SCAN = 64 * 1024


def wav_duration(data: bytes | memoryview) -> float | None:
    """Seconds of audio in a WAV (RIFF/RF64 ``WAVE``) file; ``None`` if ``data`` is not one.
    A WAV whose header makes no sense is refused (422)."""
    head = bytes(data[:12])
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    byte_rate = 0
    offset = 12
    end = min(len(data), HEADER_SCAN)
    while offset + 8 <= end:
        chunk_id = bytes(data[offset : offset + 4])
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                break
            (byte_rate,) = struct.unpack("<I", data[body + 8 : body + 12])
        elif chunk_id == b"data":
            if byte_rate <= 0:
                break
            remaining = len(data) - body
            # A header written before the length was known says 0 or 0xFFFFFFFF: the bytes tell.
            length = size if 0 < size <= remaining else remaining
            return length / byte_rate
        offset = body + size + (size & 1)
    raise InvalidInput(
        "the upload says it is a WAV file but its header is broken (no format or data chunk)",
        reason="bad_wav",
    )
