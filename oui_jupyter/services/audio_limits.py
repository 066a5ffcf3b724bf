"""How long a recording is, where its header says so cheaply (WAV: byte rate and data size).

Other formats (MP3, WebM, Ogg...) would need decoding to know: their size limit applies alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from oui_jupyter.errors import InvalidInput

#: how far into a WAV file its ``fmt `` and ``data`` chunks are looked for
HEADER_SCAN = 64 * 1024
UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # written before the length was known (streams, RF64)


@dataclass(frozen=True)
class WavHeader:
    byte_rate: int
    data_start: int  # where the samples start
    data_size: int | None  # as the header says it, if it says

    def seconds(self, file_size: int) -> float:
        """The duration the header says, else what the bytes there make."""
        if self.data_size is not None:
            return self.data_size / self.byte_rate
        return max(0, file_size - self.data_start) / self.byte_rate


def wav_header(head: bytes | memoryview) -> WavHeader | None:
    """The header of a WAV (RIFF/RF64 ``WAVE``) file from its first bytes (up to
    ``HEADER_SCAN``); ``None`` if it is not one. One whose header makes no sense is refused
    (422)."""
    start = bytes(head[:12])
    if len(start) < 12 or start[:4] not in (b"RIFF", b"RF64") or start[8:12] != b"WAVE":
        return None
    byte_rate = 0
    offset = 12
    end = min(len(head), HEADER_SCAN)
    while offset + 8 <= end:
        chunk_id = bytes(head[offset : offset + 4])
        (size,) = struct.unpack("<I", head[offset + 4 : offset + 8])
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(head):
                break
            (byte_rate,) = struct.unpack("<I", head[body + 8 : body + 12])
        elif chunk_id == b"data":
            if byte_rate <= 0:
                break
            return WavHeader(byte_rate, body, None if size in UNKNOWN_SIZES else size)
        offset = body + size + (size & 1)
    raise InvalidInput(
        "the upload says it is a WAV file but its header is broken (no format or data chunk)",
        reason="bad_wav",
    )


def wav_duration(data: bytes | memoryview) -> float | None:
    """Seconds of audio in a whole WAV file (``None``: not one)."""
    header = wav_header(data)
    return None if header is None else header.seconds(len(data))
