"""Is the event loop free while big chat work runs? (goal: `oui/api/version` p99 < 50 ms)

A real `jupyter server` with oui (SQLite, or `--db URL`, e.g. an empty PostgreSQL database).
While one request runs (importing a 100,000-message chat in Open WebUI's export shape, ~11 MB,
so `max_body_size` is raised to 32 MiB; reading it; cloning it; exporting it as Markdown;
importing 20,000 two-message chats, ~6 MB), a second connection asks `GET oui/api/version`
every 10 ms; the figures are the latencies of the probes in flight at some time during the
big request, and the big request's own duration. The probe runs in its own process, so the
client's work on the big request does not delay it. A first row gives the probe alone (the
machine's own noise).
Usage: python chat_import_loop.py [--messages 100000] [--chats 20000] [--db URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import time
import urllib.request
from typing import Any

from _chat import AUTH, p50, pct
from _server import JupyterServer


def big_chat(n: int) -> list[dict[str, Any]]:
    """One chat of ``n`` messages in a line, as Open WebUI exports it (compact ids and text,
    no ``childrenIds``: they are derived from ``parentId``)."""
    messages: dict[str, Any] = {}
    parent = None
    for i in range(n):
        mid = f"m{i}"
        messages[mid] = {
            "id": mid,
            "parentId": parent,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i}",
            "timestamp": 1_700_000_000 + i,
        }
        parent = mid
    return [
        {
            "chat": {
                "title": "big",
                "models": ["m"],
                "history": {"messages": messages, "currentId": parent},
            }
        }
    ]


def small_chats(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        messages = {
            "u": {
                "id": "u",
                "parentId": None,
                "childrenIds": ["a"],
                "role": "user",
                "content": f"q {i}",
                "timestamp": 1_700_000_000,
            },
            "a": {
                "id": "a",
                "parentId": "u",
                "childrenIds": [],
                "role": "assistant",
                "content": f"a {i}",
                "timestamp": 1_700_000_001,
            },
        }
        out.append(
            {
                "chat": {"title": f"chat {i}", "history": {"messages": messages, "currentId": "a"}},
                "meta": {"tags": ["imported"]},
            }
        )
    return out


def probe(port: int, stop: Any, out: Any) -> None:
    """GET oui/api/version every 10 ms on one keep-alive connection; (start, seconds) each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    samples = []
    while not stop.is_set():
        t0 = time.time()
        conn.request("GET", "/oui/api/version", headers=AUTH)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        samples.append((t0, time.time() - t0))
        time.sleep(0.01)
    out.put(samples)


def timed(
    server: JupyterServer, method: str, path: str | None, body: bytes | None = None
) -> tuple[float, bytes, list[float]]:
    """Run one request while the probe runs: its seconds, its body, and the latencies (ms) of
    the probe's requests that were in flight at some time during it. ``path=None``: no
    request, two seconds of the probe alone (the machine's own noise)."""
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    prober = multiprocessing.Process(target=probe, args=(server.port, stop, out))
    prober.start()
    time.sleep(0.3)  # the probe is running
    request = urllib.request.Request(
        server.url + (path or ""),
        data=body,
        method=method,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    t0 = time.time()
    if path is None:
        time.sleep(2)
        data = b""
    else:
        with urllib.request.urlopen(request, timeout=600) as response:
            data = response.read()
    t1 = time.time()
    time.sleep(0.05)
    stop.set()
    samples = out.get(timeout=60)
    prober.join(10)
    during = [s * 1000 for start, s in samples if start < t1 and start + s > t0]
    return t1 - t0, data, during


def report(name: str, seconds: float, during: list[float], results: dict[str, Any]) -> None:
    if during:
        line = f"p50 {p50(during):6.1f}  p99 {pct(during, 0.99):6.1f}  max {max(during):6.1f} ms  (n={len(during)})"
    else:
        line = "no probe completed during the request"
    print(f"{name:<28} {seconds:7.2f} s   version: {line}")
    results[name] = {
        "seconds": round(seconds, 3),
        "probes": len(during),
        "version_p50_ms": round(p50(during), 2) if during else None,
        "version_p99_ms": round(pct(during, 0.99), 2) if during else None,
        "version_max_ms": round(max(during), 2) if during else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=20_000)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    extra = [
        "--OuiJupyter.local_model_enabled=False",
        "--OuiJupyter.index_workspace=False",
        "--OuiJupyter.enable_title_generation=False",
        "--OuiJupyter.enable_tags_generation=False",
        f"--OuiJupyter.max_body_size={32 * 1024 * 1024}",
    ]  # the 100k chat is ~11 MB
    if args.db:
        extra.append(f"--OuiJupyter.database_url={args.db}")
    server = JupyterServer(True, extra)
    server.start()
    server.get("/oui/api/v1/chats/")  # services built
    results: dict[str, Any] = {}
    try:
        seconds, _, during = timed(server, "GET", None)
        report("idle (no other request)", seconds, during, results)
        body = json.dumps(big_chat(args.messages), separators=(",", ":")).encode()
        print(f"big chat: {args.messages} messages, {len(body) / 1e6:.1f} MB")
        seconds, data, during = timed(server, "POST", "/oui/api/v1/chats/import", body)
        chat_id = json.loads(data)[0]["id"]
        report(f"import {args.messages} msgs", seconds, during, results)
        seconds, data, during = timed(server, "GET", f"/oui/api/v1/chats/{chat_id}")
        assert len(json.loads(data)["chat"]["history"]["messages"]) == args.messages
        report(f"get {args.messages} msgs", seconds, during, results)
        seconds, data, during = timed(server, "POST", f"/oui/api/v1/chats/{chat_id}/clone", b"{}")
        report(f"clone {args.messages} msgs", seconds, during, results)
        seconds, data, during = timed(
            server, "GET", f"/oui/api/v1/chats/{chat_id}/export?format=markdown"
        )
        report(f"export md {args.messages} msgs", seconds, during, results)
        body = json.dumps(small_chats(args.chats), separators=(",", ":")).encode()
        print(f"small chats: {args.chats} chats, {len(body) / 1e6:.1f} MB")
        seconds, data, during = timed(server, "POST", "/oui/api/v1/chats/import", body)
        assert len(json.loads(data)) == args.chats
        report(f"import {args.chats} chats", seconds, during, results)
        print(
            json.dumps(
                {
                    "messages": args.messages,
                    "chats": args.chats,
                    "db": "postgresql" if args.db else "sqlite",
                    **results,
                }
            )
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
