"""Keep one-off loads out of the garbage collector's sight.

What the server loads once and keeps (Jupyter's modules at start; SQLAlchemy, ``openai``,
aiohttp, DuckDB and numpy at first use) is never garbage, yet every full collection walks it
again: 50-80 ms pauses of the event loop, i.e. of every stream, with 200 answers streaming
(``benchmarks/chat_concurrency.py``). Freezing moves it to the permanent generation.
"""
from __future__ import annotations

import gc


def freeze_long_lived(collect: bool = True) -> None:
    """Freeze everything allocated so far; ``collect`` first frees what is already garbage
    (one collection now, from a thread where possible, instead of one every few seconds)."""
    if collect:
        gc.collect()
    gc.freeze()
