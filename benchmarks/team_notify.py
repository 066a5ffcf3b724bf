"""LISTEN/NOTIFY delivery between replicas of the team service (issue #16; goal p99 < 100 ms).

1. The bus alone: two ``PgBus`` in this process on a fresh database; one publishes N messages
   (one every ``gap`` ms, each holding its send time), the other hears them: publish -> heard.
2. End to end: two team service replicas (real ``jupyter server`` processes, deltas unbatched:
   ``stream_batch_ms=0``), a socket of the same user on each; one persisted turn on replica A
   whose upstream stamps each delta with its send time (``x_stamp``). For each delta: when the
   socket on A got it (local delivery) and when the socket on B got it (through the bus);
   B - A is what the bus adds.

Usage: python benchmarks/team_notify.py [events=600] [gap_ms=4]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from _chat import Upstream
from _team import fresh_database, p50, pct, replicas
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from oui_jupyter.team.bus import PgBus

USER = {"Authorization": "token u0-token"}


async def bus_alone(database_url: str, events: int, gap: float) -> list[float]:
    loop = asyncio.get_running_loop()
    sender, receiver = PgBus(database_url), PgBus(database_url)
    delays: list[float] = []
    done = asyncio.Event()

    def heard(head: dict, body: str) -> None:
        delays.append(time.perf_counter() - float(body))
        if len(delays) >= events:
            done.set()

    receiver.on("event", heard)
    await asyncio.to_thread(sender.start, loop)
    await asyncio.to_thread(receiver.start, loop)
    try:
        for _ in range(events):
            sender.publish("event", {"u": "u0"}, repr(time.perf_counter()))
            await asyncio.sleep(gap)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await asyncio.to_thread(sender.close)
        await asyncio.to_thread(receiver.close)
    return delays


async def read_stamps(ws, message_id: str, out: list[tuple[float, float]]) -> None:
    """(stamp, received) of every delta of ``message_id`` until its final frame."""
    while True:
        message = await ws.read_message()
        if message is None:
            raise RuntimeError("the events socket closed")
        received = time.time()
        frame = json.loads(message)
        if frame.get("message_id") != message_id:
            continue
        data = frame.get("data") or {}
        if data.get("done"):
            return
        for stamp in (data.get("delta") or "").split():
            out.append((float(stamp), received))


async def end_to_end(database_url: str, upstream: Upstream, events: int, gap: float) -> dict:
    with replicas(database_url, upstream.base_url, 2, "--OuiJupyter.stream_batch_ms=0") as (a, b):
        client = AsyncHTTPClient()
        sockets = []
        for replica in (a, b):
            url = f"ws://127.0.0.1:{replica.port}/oui/api/events"
            sockets.append(await websocket_connect(HTTPRequest(url, headers=USER)))
        chat = await client.fetch(
            f"{a.url}/oui/api/v1/chats/new",
            method="POST",
            headers=USER,
            body=json.dumps({"chat": {"title": "bench", "models": ["slow"]}}),
        )
        chat_id = json.loads(chat.body)["id"]
        turn = {
            "model": "slow",
            "chat_id": chat_id,
            "session_id": "bench",
            "messages": [{"role": "user", "content": "Count"}],
            "x_chunks": events,
            "x_delay": gap,
            "x_stamp": True,
        }
        started = await client.fetch(
            f"{a.url}/oui/api/chat/completions",
            method="POST",
            headers=USER,
            body=json.dumps(turn),
        )
        message_id = json.loads(started.body)["message_id"]
        on_a: list[tuple[float, float]] = []
        on_b: list[tuple[float, float]] = []
        await asyncio.wait_for(
            asyncio.gather(
                read_stamps(sockets[0], message_id, on_a), read_stamps(sockets[1], message_id, on_b)
            ),
            120,
        )
        for ws in sockets:
            ws.close()
    a_at = {stamp: received for stamp, received in on_a}
    return {
        "a": [received - stamp for stamp, received in on_a],
        "b": [received - stamp for stamp, received in on_b],
        "b_minus_a": [received - a_at[stamp] for stamp, received in on_b if stamp in a_at],
        "count_a": len(on_a),
        "count_b": len(on_b),
    }


def line(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"  {name:<38} n={len(ms):<5} p50 {p50(ms):7.2f} ms  p99 {pct(ms, 0.99):7.2f} ms  max {max(ms):7.2f} ms"


async def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    gap = (float(sys.argv[2]) if len(sys.argv) > 2 else 4.0) / 1000
    upstream = Upstream()
    try:
        with fresh_database() as database_url:
            alone = await bus_alone(database_url, events, gap)
            print(f"LISTEN/NOTIFY delivery, {events} events, one every {gap * 1000:g} ms")
            print(line("bus alone: publish -> heard", alone))
            t0 = time.perf_counter()
            e2e = await end_to_end(database_url, upstream, events, gap)
            print(line("upstream -> socket on A (local)", e2e["a"]))
            print(line("upstream -> socket on B (via the bus)", e2e["b"]))
            print(line("socket on A -> socket on B (the bus)", e2e["b_minus_a"]))
            print(
                f"  deltas received: A {e2e['count_a']}, B {e2e['count_b']} (of {events}); "
                f"end to end {time.perf_counter() - t0:.1f} s with start-up"
            )
            slow = [(i, d) for i, d in enumerate(e2e["b_minus_a"]) if d > 0.1]
            shown = ", ".join(f"#{i}: {d * 1000:.0f}" for i, d in slow[:8])
            print(f"  over 100 ms: {len(slow)} (delta #: ms; {shown})")
            goal = pct(e2e["b_minus_a"], 0.99) * 1000
            print(f"  goal p99 < 100 ms: {'met' if goal < 100 else 'NOT met'} ({goal:.2f} ms)")
    finally:
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
