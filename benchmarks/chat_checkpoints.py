"""Checkpointing on vs off: persisted time to first token, and relay throughput of one stream.

Two real servers on the same scripted upstream (its own process): one with the default
``checkpoint_interval`` (1 s), one with checkpoints off (0). Time to first token is measured as
in chat_ttft.py (keep-alive httpx client, streamed, persisted with ``chat_id``), interleaved
with the upstream direct; added = oui - direct at p50 and p99. Throughput as in chat_relay.py:
one persisted stream of N fast deltas, best of R; a stream of a few seconds gets a checkpoint
every second, each rewriting the text so far (~5 MB at the end with the default N).
Usage: python chat_checkpoints.py [ttft_n=300] [tokens=500000] [repeats=3]
"""
from __future__ import annotations

import json
import sys

import httpx
from _chat import AUTH, Upstream, new_chat, p50, pct, start_oui
from chat_relay import stream_tokens
from chat_ttft import BODY, first_token


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    upstream = Upstream()
    servers = {
        "on (1 s)": start_oui(upstream, "--OuiJupyter.checkpoint_interval=1.0"),
        "off": start_oui(upstream, "--OuiJupyter.checkpoint_interval=0"),
    }
    try:
        chats = {name: new_chat(server) for name, server in servers.items()}
        runs = {"direct": (f"{upstream.base_url}/chat/completions", BODY, {})}
        for name, server in servers.items():
            runs[name] = (f"{server.url}/oui/api/chat/completions", {**BODY, "chat_id": chats[name]}, AUTH)
        times: dict[str, list[float]] = {name: [] for name in runs}
        with httpx.Client(timeout=120) as client:
            for url, body, headers in runs.values():  # warm up
                for _ in range(20):
                    first_token(client, url, body, headers)
            for _ in range(n):  # interleaved, so drift hits all alike
                for name, (url, body, headers) in runs.items():
                    times[name].append(first_token(client, url, body, headers) * 1000)
            relay: dict[str, float] = {}
            stream = {"model": "fast", "stream": True, "x_chunks": tokens,
                      "messages": [{"role": "user", "content": "Hi"}]}
            best = {name: 0.0 for name in servers}
            for _ in range(repeats):  # alternated, best of each
                for name, server in servers.items():
                    url = f"{server.url}/oui/api/chat/completions"
                    got, seconds = stream_tokens(client, url, {**stream, "chat_id": chats[name]}, AUTH)
                    assert got == tokens, (name, got)
                    best[name] = max(best[name], got / seconds)
            relay = {name: round(value) for name, value in best.items()}
        direct = times["direct"]
        result: dict[str, dict[str, float]] = {}
        print(f"{'checkpoints':<12}{'ttft p50':>10}{'added p50':>11}{'added p99':>11}{'relay tok/s':>13}")
        for name in servers:
            values = times[name]
            added50, added99 = p50(values) - p50(direct), pct(values, 0.99) - pct(direct, 0.99)
            result[name] = {"ttft_p50": round(p50(values), 2), "added_p50": round(added50, 2),
                            "added_p99": round(added99, 2), "relay_tokens_per_s": relay[name]}
            print(f"{name:<12}{p50(values):>10.2f}{added50:>11.2f}{added99:>11.2f}{relay[name]:>13,}")
        ratio = relay["on (1 s)"] / relay["off"]
        print(f"direct ttft p50 {p50(direct):.2f} ms; relay on/off = {ratio:.1%}")
        print(json.dumps({"n": n, "tokens": tokens, "direct_p50": round(p50(direct), 2), **result,
                          "relay_on_over_off": round(ratio, 3)}))
    finally:
        for server in servers.values():
            server.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
