"""A persisted turn on a 2,000-message chat vs a 2-message chat (goal: p50 ratio <= 1.5).

Each turn goes to a fast scripted upstream (8 deltas, no delay), non-streamed, through
`oui/api/chat/completions` with `chat_id` (the client sends the new user message; the server
inserts it and the answer) and through `oui/api/v1/chats/{id}/message` (the server reads the
branch itself: at most `max_history_messages`, 200 by default, sent upstream). Every turn
extends the chat's current branch.
Usage: python chat_persist.py [turns=150]
"""

from __future__ import annotations

import json
import sys
import time

import httpx
from _chat import AUTH, Upstream, new_chat, p50, pct, start_oui


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    upstream = Upstream()
    server = start_oui(upstream)
    try:
        chats = {size: new_chat(server, size) for size in (2, 2000)}
        times: dict[str, dict[int, list[float]]] = {
            "chat/completions": {2: [], 2000: []},
            "chats/{id}/message": {2: [], 2000: []},
        }
        with httpx.Client(timeout=60, headers=AUTH) as client:

            def completions(chat_id: str) -> None:
                r = client.post(
                    f"{server.url}/oui/api/chat/completions",
                    json={
                        "model": "fast",
                        "chat_id": chat_id,
                        "messages": [{"role": "user", "content": "Hello"}],
                    },
                )
                assert r.status_code == 200, r.text

            def message(chat_id: str) -> None:
                r = client.post(
                    f"{server.url}/oui/api/v1/chats/{chat_id}/message",
                    json={"content": "Hello", "model": "fast"},
                )
                assert r.status_code == 200, r.text

            routes = {"chat/completions": completions, "chats/{id}/message": message}
            for route in routes.values():  # warm up
                for chat_id in chats.values():
                    for _ in range(10):
                        route(chat_id)
            for _ in range(n):
                for name, route in routes.items():
                    for size, chat_id in chats.items():
                        t0 = time.perf_counter()
                        route(chat_id)
                        times[name][size].append((time.perf_counter() - t0) * 1000)
        result = {}
        print(
            f"{'route':<22}{'2 msgs p50/p99 ms':>20}{'2000 msgs p50/p99 ms':>23}{'p50 ratio':>11}"
        )
        for name, by_size in times.items():
            small, big = by_size[2], by_size[2000]
            ratio = p50(big) / p50(small)
            result[name] = {
                "p50_2": round(p50(small), 2),
                "p99_2": round(pct(small, 0.99), 2),
                "p50_2000": round(p50(big), 2),
                "p99_2000": round(pct(big, 0.99), 2),
                "ratio": round(ratio, 2),
            }
            print(
                f"{name:<22}{p50(small):>10.2f}/{pct(small, 0.99):<9.2f}{p50(big):>12.2f}/{pct(big, 0.99):<10.2f}"
                f"{ratio:>10.2f}"
            )
        print(json.dumps({"turns": n, **result}))
    finally:
        server.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
