"""Relay throughput of one stream: tokens/s from a fast scripted upstream, direct vs through oui.

The upstream sends N deltas as fast as it can (`x_chunks`, no delay); one keep-alive client
reads the whole SSE stream. Through oui both without a chat and persisted (`chat_id`, with the
user's WebSocket-less event hub: nobody listening).
Usage: python chat_relay.py [tokens=20000] [repeats=3]
"""

from __future__ import annotations

import json
import sys
import time

import httpx
from _chat import AUTH, Upstream, new_chat, start_oui


def stream_tokens(client: httpx.Client, url: str, body: dict, headers: dict) -> tuple[int, float]:
    tokens = 0
    t0 = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content": "tok' in line.replace('":"', '": "'):
                tokens += 1
    return tokens, time.perf_counter() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    upstream = Upstream()
    server = start_oui(upstream)
    body = {
        "model": "fast",
        "stream": True,
        "x_chunks": n,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    try:
        chat_id = new_chat(server)
        runs = {
            "direct": (f"{upstream.base_url}/chat/completions", body, {}),
            "oui (no chat)": (f"{server.url}/oui/api/chat/completions", body, AUTH),
            "oui (persisted)": (
                f"{server.url}/oui/api/chat/completions",
                {**body, "chat_id": chat_id},
                AUTH,
            ),
        }
        result = {}
        with httpx.Client(timeout=120) as client:
            for name, (url, payload, headers) in runs.items():
                best = 0.0
                for _ in range(repeats):
                    tokens, seconds = stream_tokens(client, url, payload, headers)
                    assert tokens == n, (name, tokens)
                    best = max(best, tokens / seconds)
                result[name] = round(best)
                print(f"{name:<18}{best:>12,.0f} tokens/s")
        print(json.dumps({"tokens": n, "tokens_per_s": result}))
    finally:
        server.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
