"""What the checks on raw request bodies cost: the nesting-depth scan and the NUL search
(``oui_jupyter.jsonlimits``), next to msgspec decoding the same body, on bodies a client sends
(a 2,000-message chat, a whole-chat save of 10 MB) and on adversarial ones of the size limit.

Usage: python input_limits.py   (prints median milliseconds of 15 runs per body)
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import msgspec
import numpy  # noqa: F401 - loaded by the retrieval index in a server; not measured here

from oui_jupyter.jsonlimits import has_escaped_nul, json_depth_exceeds


def chat(n: int, words: int) -> bytes:
    messages = {
        f"m{i}": {
            "id": f"m{i}",
            "parentId": f"m{i - 1}" if i else None,
            "childrenIds": [f"m{i + 1}"],
            "role": "user" if i % 2 == 0 else "assistant",
            "content": "word [x]\n" * words,
            "files": [{"type": "file", "file": {"meta": {"name": "a.txt"}}}],
            "timestamp": i,
        }
        for i in range(n)
    }
    history = {"messages": messages, "currentId": f"m{n - 1}"}
    return json.dumps({"chat": {"title": "t", "history": history}}).encode()


BODIES: dict[str, bytes] = {
    "chat, 2,000 messages": chat(2000, 60),
    "chat, 10 MB": chat(12_000, 100),
    "10 MB of [] at depth 63": b"[" + b",".join([b"[" * 63 + b"]" * 63] * 78_000) + b"]",
    "10 MB of small objects": json.dumps(
        [{"a": [1, {"b": 'x\\"y'}]} for _ in range(400_000)]
    ).encode(),
    "1,000 deep (2 KB)": b"[" * 1000 + b"]" * 1000,
}


def median_ms(fn: Callable[[], object], runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"{'body':28} {'KB':>7} {'depth':>8} {'NUL':>6} {'decode':>8}  (median ms)")
    for name, body in BODIES.items():
        depth = median_ms(lambda body=body: json_depth_exceeds(body))
        nul = median_ms(lambda body=body: has_escaped_nul(body))
        if json_depth_exceeds(body):
            decode = "refused"
        else:
            decode = f"{median_ms(lambda body=body: msgspec.json.decode(body)):8.1f}"
        print(f"{name:28} {len(body) // 1024:7d} {depth:8.2f} {nul:6.2f} {decode:>8}")


if __name__ == "__main__":
    main()
