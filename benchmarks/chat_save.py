"""Open WebUI's save: the whole chat posted back with one message added, 2,000 vs 2 messages.

Open WebUI's frontend saves a chat by posting all of it to ``POST v1/chats/{id}``
(``{chat: {models, history: {messages, currentId}, messages: <the current branch>, params}}``),
after each turn and each edit. Each save here adds one user message under the current one, as a
client holding the chat would; the body is encoded once per save, outside the timing. Timed:
the request until its answer is read, with Open WebUI's own headers (the full chat answered)
and with ``Prefer: return=minimal`` (the sidebar's: no message tree in the answer).
Usage: python chat_save.py [saves=100]
"""

from __future__ import annotations

import copy
import json
import sys
import time
from typing import Any

import httpx
from _chat import AUTH, Upstream, new_chat, p50, pct, start_oui


def current_branch(history: dict[str, Any]) -> list[dict[str, Any]]:
    branch, current = [], history["currentId"]
    while current is not None:
        message = history["messages"][current]
        branch.append(message)
        current = message["parentId"]
    return branch[::-1]


def add_message(chat: dict[str, Any], n: int) -> dict[str, Any]:
    """The chat with one more user message under its current one (the client's copy grows)."""
    history = chat["history"]
    parent = history["currentId"]
    mid = f"save-{n}"
    history["messages"][mid] = {
        "id": mid,
        "parentId": parent,
        "childrenIds": [],
        "role": "user",
        "content": f"one more question {n}",
        "timestamp": int(time.time()),
        "models": ["fast"],
    }
    history["messages"][parent]["childrenIds"].append(mid)
    history["currentId"] = mid
    return {
        "models": chat["models"],
        "params": chat.get("params", {}),
        "history": history,
        "messages": current_branch(history),
        "files": [],
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    upstream = Upstream()
    server = start_oui(upstream)
    try:
        sizes = (2, 2000)
        modes = {"full answer": {}, "Prefer: return=minimal": {"Prefer": "return=minimal"}}
        times: dict[str, dict[int, list[float]]] = {mode: {s: [] for s in sizes} for mode in modes}
        with httpx.Client(
            timeout=60, headers={**AUTH, "Content-Type": "application/json"}
        ) as client:
            chats = {}
            for size in sizes:
                chat_id = new_chat(server, size)
                chats[size] = (
                    chat_id,
                    copy.deepcopy(
                        client.get(f"{server.url}/oui/api/v1/chats/{chat_id}").json()["chat"]
                    ),
                )
            count = 0
            for round_ in range(n + 10):  # the first 10 warm up
                for mode, headers in modes.items():
                    for size, (chat_id, chat) in chats.items():
                        count += 1
                        body = json.dumps({"chat": add_message(chat, count)}).encode()
                        t0 = time.perf_counter()
                        r = client.post(
                            f"{server.url}/oui/api/v1/chats/{chat_id}",
                            content=body,
                            headers=headers,
                        )
                        r.read()
                        elapsed = (time.perf_counter() - t0) * 1000
                        assert r.status_code == 200, r.text
                        if round_ >= 10:
                            times[mode][size].append(elapsed)
            final = client.get(f"{server.url}/oui/api/v1/chats/{chats[2000][0]}").json()["chat"][
                "history"
            ]
            assert len(final["messages"]) == 2000 + 2 * (n + 10), len(final["messages"])
        result = {}
        print(
            f"{'answer':<24}{'2 msgs p50/p99 ms':>20}{'2000 msgs p50/p99 ms':>23}{'p50 ratio':>11}"
        )
        for mode, by_size in times.items():
            small, big = by_size[2], by_size[2000]
            result[mode] = {
                "p50_2": round(p50(small), 2),
                "p99_2": round(pct(small, 0.99), 2),
                "p50_2000": round(p50(big), 2),
                "p99_2000": round(pct(big, 0.99), 2),
                "ratio": round(p50(big) / p50(small), 2),
            }
            print(
                f"{mode:<24}{p50(small):>10.2f}/{pct(small, 0.99):<9.2f}{p50(big):>12.2f}/"
                f"{pct(big, 0.99):<10.2f}{p50(big) / p50(small):>10.2f}"
            )
        print(json.dumps({"saves": n, **result}))
    finally:
        server.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
