"""Text lost per kill -9: a real server killed while an answer streams, restarted on the same data.

Each cycle starts a persisted streamed answer (`chat/completions` with `chat_id`) from the
scripted upstream at ~100 tokens/s (`slow`, 10 ms a token), kills the server (SIGKILL) at a
random moment 2-5 s after its first token, restarts it on the same data dir and waits until the
answer is marked interrupted. Lost = what the client had received at the kill minus what the
restarted server has: in tokens, characters and seconds of streaming (at the rate the client
saw that answer arrive). The same database and
data dir serve every cycle. Also reports how long after the restart the answer was marked.
Usage: python chat_crash.py [cycles=20] [checkpoint_interval=1.0]
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import threading
import time
from typing import Any

import httpx
from _chat import AUTH, Upstream, p50, post, start_oui
from _server import JupyterServer

RATE = 100  # tokens/s from the upstream
TOKENS = 100_000


def oui_server(upstream: Upstream, data_dir: str, interval: float) -> JupyterServer:
    return start_oui(
        upstream,
        "--OuiJupyter.warm_up_delay=0",
        f"--OuiJupyter.checkpoint_interval={interval}",
        data_dir=data_dir,
    )


class Reader(threading.Thread):
    """Reads one SSE stream; ``text`` is what has arrived so far."""

    def __init__(self, url: str, body: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.url, self.body = url, body
        self.text = ""
        self.first = threading.Event()
        self.first_at = 0.0

    def run(self) -> None:
        try:
            with httpx.stream(
                "POST", self.url, json=self.body, headers=AUTH, timeout=60
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: {"):
                        choices = json.loads(line[6:]).get("choices") or [{}]
                        delta = (choices[0].get("delta") or {}).get("content")
                        if delta:
                            if not self.text:
                                self.first_at = time.perf_counter()
                            self.text += delta
                            self.first.set()
        except (httpx.HTTPError, OSError):
            pass  # the server was killed


def find_answer(server: JupyterServer, chat_id: str) -> dict[str, Any] | None:
    chat = json.loads(server.get(f"/oui/api/v1/chats/{chat_id}"))
    answers = [m for m in chat["chat"]["history"]["messages"].values() if m["role"] == "assistant"]
    return answers[0] if answers else None


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    random.seed(13)
    upstream = Upstream()
    data = tempfile.TemporaryDirectory()
    lost_tokens: list[int] = []
    lost_chars: list[int] = []
    lost_seconds: list[float] = []
    marked_after: list[float] = []
    server = oui_server(upstream, data.name, interval)
    try:
        for cycle in range(cycles):
            chat = {"chat": {"title": f"crash {cycle}", "models": ["slow"]}}
            chat_id = post(server, "/oui/api/v1/chats/new", chat)["id"]
            reader = Reader(
                f"{server.url}/oui/api/chat/completions",
                {
                    "model": "slow",
                    "stream": True,
                    "chat_id": chat_id,
                    "x_chunks": TOKENS,
                    "x_delay": 1 / RATE,
                    "messages": [{"role": "user", "content": "Count slowly"}],
                },
            )
            reader.start()
            assert reader.first.wait(30), "no first token"
            time.sleep(random.uniform(2.0, 5.0))
            received, killed_at = reader.text, time.perf_counter()
            server.proc.kill()  # type: ignore[union-attr]  # SIGKILL
            server.proc.wait(30)  # type: ignore[union-attr]
            server.tmp.cleanup()
            reader.join(10)
            server = oui_server(upstream, data.name, interval)
            restarted = time.perf_counter()
            while True:
                answer = find_answer(server, chat_id)
                if answer is not None and answer.get("interrupted"):
                    break
                if time.perf_counter() - restarted > 120:
                    raise RuntimeError(
                        f"cycle {cycle}: the answer was not marked interrupted: {answer}"
                    )
                time.sleep(0.1)
            marked_after.append(time.perf_counter() - restarted)
            saved = answer["content"]
            assert received.startswith(saved) or saved.startswith(received), (
                cycle,
                len(saved),
                len(received),
            )
            lost_tokens.append(len(received.split()) - len(saved.split()))
            lost_chars.append(len(received) - len(saved))
            rate = len(received.split()) / (killed_at - reader.first_at)
            lost_seconds.append(lost_tokens[-1] / rate)
            print(
                f"cycle {cycle + 1:>2}: received {len(received.split()):>4} tokens, saved {len(saved.split()):>4}, "
                f"lost {lost_tokens[-1]:>4} ({lost_chars[-1]} chars); marked {marked_after[-1]:.1f} s after restart"
            )
        seconds = lost_seconds
        print(
            f"lost per crash: median {p50(lost_tokens):.0f} tokens ({p50(seconds):.2f} s of streaming), "
            f"max {max(lost_tokens)} tokens ({max(seconds):.2f} s); checkpoint_interval {interval} s"
        )
        print(
            json.dumps(
                {
                    "cycles": cycles,
                    "checkpoint_interval": interval,
                    "rate_tokens_per_s": RATE,
                    "lost_tokens": {"median": p50(lost_tokens), "max": max(lost_tokens)},
                    "lost_chars": {"median": p50(lost_chars), "max": max(lost_chars)},
                    "lost_seconds": {
                        "median": round(p50(seconds), 3),
                        "max": round(max(seconds), 3),
                    },
                    "marked_after_restart_s": {
                        "median": round(p50(marked_after), 2),
                        "max": round(max(marked_after), 2),
                    },
                    "interrupted_marked": len(marked_after),
                }
            )
        )
    finally:
        server.stop()
        upstream.stop()
        data.cleanup()


if __name__ == "__main__":
    main()
