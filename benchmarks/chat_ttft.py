"""Server-added time to first token: oui/api/chat/completions vs the same scripted upstream direct.

Both are streamed (`stream: true`) by one keep-alive httpx client; the time to first token is
from sending the request to reading the first SSE `data:` line. Through oui the turn is persisted
(`chat_id`: two INSERTs before the upstream call). Added = oui - direct, at p50 and p99.
Usage: python chat_ttft.py [N=300]
"""

from __future__ import annotations

import json
import sys
import time

import httpx
from _chat import AUTH, Upstream, new_chat, p50, pct, start_oui

BODY = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}


def first_token(client: httpx.Client, url: str, body: dict, headers: dict) -> float:
    t0 = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data:"):
                first = time.perf_counter() - t0
                break
        for _ in lines:
            pass
    return first


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    upstream = Upstream()
    server = start_oui(upstream)
    try:
        chat_id = new_chat(server)
        runs = {
            "direct": (f"{upstream.base_url}/chat/completions", BODY, {}),
            "oui (no chat)": (f"{server.url}/oui/api/chat/completions", BODY, AUTH),
            "oui (persisted)": (
                f"{server.url}/oui/api/chat/completions",
                {**BODY, "chat_id": chat_id},
                AUTH,
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        with httpx.Client(timeout=30) as client:
            for url, body, headers in runs.values():  # warm up
                for _ in range(20):
                    first_token(client, url, body, headers)
            for _ in range(n):  # interleaved, so drift hits all three alike
                for name, (url, body, headers) in runs.items():
                    times[name].append(first_token(client, url, body, headers) * 1000)
        direct = times["direct"]
        result = {}
        print(f"{'path':<18}{'p50 ms':>9}{'p99 ms':>9}{'added p50':>11}{'added p99':>11}")
        for name, values in times.items():
            added50, added99 = p50(values) - p50(direct), pct(values, 0.99) - pct(direct, 0.99)
            result[name] = {
                "p50": round(p50(values), 2),
                "p99": round(pct(values, 0.99), 2),
                "added_p50": round(added50, 2),
                "added_p99": round(added99, 2),
            }
            print(
                f"{name:<18}{p50(values):>9.2f}{pct(values, 0.99):>9.2f}{added50:>11.2f}{added99:>11.2f}"
            )
        print(json.dumps({"n": n, **result}))
    finally:
        server.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
