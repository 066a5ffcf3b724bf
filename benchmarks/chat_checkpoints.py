"""Checkpointing on vs off: persisted time to first token, and relay throughput of one stream.

Two real servers on the same scripted upstream (its own process): one with the default
``checkpoint_interval`` (1 s), one with checkpoints off (0). Time to first token is measured as
in chat_ttft.py (keep-alive httpx client, streamed, persisted with ``chat_id``), interleaved
with the upstream direct; added = oui - direct at p50 and p99. Throughput as in chat_relay.py:
one persisted stream of N fast deltas, on and off alternated R times, best and median; the
stream lasts a few seconds, so it gets a checkpoint every second, each rewriting the text so
far (~4 MB at the end with the default N: far longer than an answer). On a busy machine the
wall-clock rates are noisy: the server's CPU seconds per stream (all its threads, from
/proc) are reported too.
Usage: python chat_checkpoints.py [ttft_n=300] [tokens=500000] [repeats=5]
"""

from __future__ import annotations

import json
import os
import sys

import httpx
from _chat import AUTH, Upstream, new_chat, p50, pct, start_oui
from chat_relay import stream_tokens
from chat_ttft import BODY, first_token


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    upstream = Upstream()
    servers = {
        "on (1 s)": start_oui(upstream, "--OuiJupyter.checkpoint_interval=1.0"),
        "off": start_oui(upstream, "--OuiJupyter.checkpoint_interval=0"),
    }
    try:
        chats = {name: new_chat(server) for name, server in servers.items()}
        runs = {"direct": (f"{upstream.base_url}/chat/completions", BODY, {})}
        for name, server in servers.items():
            runs[name] = (
                f"{server.url}/oui/api/chat/completions",
                {**BODY, "chat_id": chats[name]},
                AUTH,
            )
        times: dict[str, list[float]] = {name: [] for name in runs}
        with httpx.Client(timeout=120) as client:
            for url, body, headers in runs.values():  # warm up
                for _ in range(20):
                    first_token(client, url, body, headers)
            for _ in range(n):  # interleaved, so drift hits all alike
                for name, (url, body, headers) in runs.items():
                    times[name].append(first_token(client, url, body, headers) * 1000)
            stream = {
                "model": "fast",
                "stream": True,
                "x_chunks": tokens,
                "messages": [{"role": "user", "content": "Hi"}],
            }
            rates: dict[str, list[float]] = {name: [] for name in servers}
            cpu: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(repeats):  # alternated, so drift hits both alike
                for name, server in servers.items():
                    url = f"{server.url}/oui/api/chat/completions"
                    before = cpu_seconds(server.proc.pid)  # type: ignore[union-attr]
                    got, seconds = stream_tokens(
                        client, url, {**stream, "chat_id": chats[name]}, AUTH
                    )
                    assert got == tokens, (name, got)
                    rates[name].append(got / seconds)
                    cpu[name].append(cpu_seconds(server.proc.pid) - before)  # type: ignore[union-attr]
            relay = {name: round(max(values)) for name, values in rates.items()}
            relay_median = {name: round(p50(values)) for name, values in rates.items()}
            cpu_median = {name: round(p50(values), 2) for name, values in cpu.items()}
        direct = times["direct"]
        result: dict[str, dict[str, float]] = {}
        print(
            f"{'checkpoints':<12}{'ttft p50':>10}{'added p50':>11}{'added p99':>11}"
            f"{'relay best':>12}{'median':>10}{'cpu s':>7}"
        )
        for name in servers:
            values = times[name]
            added50, added99 = p50(values) - p50(direct), pct(values, 0.99) - pct(direct, 0.99)
            result[name] = {
                "ttft_p50": round(p50(values), 2),
                "added_p50": round(added50, 2),
                "added_p99": round(added99, 2),
                "relay_tokens_per_s": relay[name],
                "relay_median_tokens_per_s": relay_median[name],
                "server_cpu_s": cpu_median[name],
            }
            print(
                f"{name:<12}{p50(values):>10.2f}{added50:>11.2f}{added99:>11.2f}"
                f"{relay[name]:>12,}{relay_median[name]:>10,}{cpu_median[name]:>7.2f}"
            )
        ratio = relay["on (1 s)"] / relay["off"]
        ratio_median = relay_median["on (1 s)"] / relay_median["off"]
        print(
            f"direct ttft p50 {p50(direct):.2f} ms; relay on/off = {ratio:.1%} (best), {ratio_median:.1%} (median)"
        )
        print(
            json.dumps(
                {
                    "n": n,
                    "tokens": tokens,
                    "direct_p50": round(p50(direct), 2),
                    **result,
                    "relay_on_over_off": round(ratio, 3),
                    "relay_median_on_over_off": round(ratio_median, 3),
                }
            )
        )
    finally:
        for server in servers.values():
            server.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
