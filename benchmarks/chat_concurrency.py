"""200 concurrent persisted streams against a scripted upstream: errors and WebSocket delay.

Each stream is `oui/api/chat/completions` with `stream: true` and its own `chat_id`, answered
by the scripted upstream (another process) with `x_chunks` deltas `x_delay` s apart; each delta
is the wall-clock time the upstream sent it (`x_stamp`). One WebSocket of the same user on
`oui/api/events` receives the batched `chat:completion` deltas of all 200; the delivery delay
of a token is the time its frame arrived minus the time the upstream sent it (so it includes
the batching window, `stream_batch_ms`, 30 ms by default); "steady" counts only the tokens sent
after the last of the 200 streams got its response headers (the ramp-up excluded). Errors: a status other than 200, an
SSE error event, a stream without `[DONE]` or with a token missing.
The WebSocket is read in its own process; the clients share the 2 cores with the server and the upstream.
Mode `live` (the sidebar's way): each turn is started with `session_id` (the request answers at
once) and streams over the WebSocket only; no HTTP stream is relayed or parsed by the clients.
A turn is done when its final `chat:completion` frame (`done: true`) arrives; an error is a
final frame with `error`, a failed start, or a turn whose tokens did not all arrive.
Usage: python chat_concurrency.py [streams=200] [chunks=20] [delay=0.05] [sse|live]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time
from typing import Any

import httpx
from _chat import AUTH, Upstream, new_chat, p50, pct, start_oui
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

STARTED: list[float] = []  # when each stream's response headers came (the end of the ramp-up)


async def one_stream(
    client: httpx.AsyncClient, url: str, chat_id: str, chunks: int, delay: float
) -> str | None:
    body = {
        "model": "slow",
        "stream": True,
        "chat_id": chat_id,
        "x_chunks": chunks,
        "x_delay": delay,
        "x_stamp": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    try:
        async with client.stream("POST", url, json=body, headers=AUTH) as response:
            STARTED.append(time.time())
            if response.status_code != 200:
                return f"status {response.status_code}"
            tokens, done = 0, False
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if "error" in data:
                        return f"error event {data['error'].get('message')}"
                    if data.get("choices") and data["choices"][0]["delta"].get("content"):
                        tokens += 1
            if not done or tokens != chunks:
                return f"incomplete: done={done} tokens={tokens}"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def one_live(
    client: httpx.AsyncClient, url: str, chat_id: str, chunks: int, delay: float
) -> str | None:
    body = {
        "model": "slow",
        "stream": True,
        "chat_id": chat_id,
        "session_id": "bench",
        "x_chunks": chunks,
        "x_delay": delay,
        "x_stamp": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    try:
        response = await client.post(url, json=body, headers=AUTH)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    STARTED.append(time.time())
    if response.status_code != 200 or "task_id" not in response.json():
        return f"status {response.status_code}"
    return None


def socket_reader(port: int, conn: Any, expect_done: int = 0) -> None:
    """The user's WebSocket, read in its own process (so the 200 HTTP clients' parsing does not
    delay it); sends back (frames, per-token delays in ms) when told to stop."""

    async def read() -> None:
        ws = await websocket_connect(
            HTTPRequest(f"ws://127.0.0.1:{port}/oui/api/events", headers=AUTH)
        )
        conn.send("ready")
        delays: list[tuple[float, float]] = []
        frames = done_frames = error_frames = 0
        tokens: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        stop = loop.run_in_executor(None, conn.recv)
        while True:
            read = asyncio.ensure_future(ws.read_message())
            done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
            if stop in done:
                read.cancel()
                break
            message = read.result()
            if message is None:
                break
            now = time.time()
            frame = json.loads(message)
            data = (frame.get("data") or {}) if frame.get("type") == "chat:completion" else {}
            delta = data.get("delta")
            if delta:
                frames += 1
                stamps = delta.split()
                tokens[frame["message_id"]] = tokens.get(frame["message_id"], 0) + len(stamps)
                delays.extend((float(stamp), (now - float(stamp)) * 1000) for stamp in stamps)
            elif data.get("done"):
                done_frames += 1
                error_frames += "error" in data
                if expect_done and done_frames == expect_done:
                    conn.send("all done")
        ws.close()
        conn.send((frames, delays, done_frames, error_frames, tokens))

    asyncio.run(read())


async def run(streams: int, chunks: int, delay: float, mode: str = "sse") -> dict:
    upstream = Upstream()
    server = start_oui(upstream)
    live = mode == "live"
    try:
        chats = [new_chat(server) for _ in range(streams)]
        parent, child = multiprocessing.Pipe()
        expect_done = streams + 1 if live else 0  # + the warm-up turn
        reader = multiprocessing.Process(
            target=socket_reader, args=(server.port, child, expect_done), daemon=True
        )
        reader.start()
        assert parent.recv() == "ready"
        url = f"{server.url}/oui/api/chat/completions"
        limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
        start_one = one_live if live else one_stream
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            await start_one(client, url, chats[0], 3, 0.0)  # warm up (its frames are counted too)
            STARTED.clear()
            t0 = time.perf_counter()
            results = await asyncio.gather(
                *(start_one(client, url, c, chunks, delay) for c in chats)
            )
            if live and not any(results):
                await asyncio.get_running_loop().run_in_executor(None, parent.poll, 120)
                assert parent.recv() == "all done"
            wall = time.perf_counter() - t0
        await asyncio.sleep(0.5)  # the last frames
        parent.send("stop")
        frames, stamped, _done_frames, error_frames, tokens = parent.recv()
        if live:
            results += ["error frame"] * error_frames
            results += [f"tokens {n}" for n in tokens.values() if n not in (3, chunks)]
        delays = [d for _, d in stamped]
        ramp_end = max(STARTED)
        steady = [d for stamp, d in stamped if stamp > ramp_end]
        reader.join(10)
        errors = [r for r in results if r]
        return {
            "mode": mode,
            "streams": streams,
            "chunks": chunks,
            "delay_s": delay,
            "wall_s": round(wall, 2),
            "ideal_wall_s": round(chunks * delay, 2),
            "errors": len(errors),
            "first_errors": errors[:3],
            "ws_frames": frames,
            "ws_tokens": len(delays),
            "expected_tokens": streams * chunks + 3,
            "ws_delay_ms_p50": round(p50(delays), 1) if delays else None,
            "ws_delay_ms_p99": round(pct(delays, 0.99), 1) if delays else None,
            "ws_delay_ms_max": round(max(delays), 1) if delays else None,
            "ramp_up_s": round(ramp_end - min(STARTED), 2),
            "steady_tokens": len(steady),
            "steady_ws_delay_ms_p50": round(p50(steady), 1) if steady else None,
            "steady_ws_delay_ms_p99": round(pct(steady, 0.99), 1) if steady else None,
        }
    finally:
        server.stop()
        upstream.stop()


def main() -> None:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    chunks = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    mode = sys.argv[4] if len(sys.argv) > 4 else "sse"
    result = asyncio.run(run(streams, chunks, delay, mode))
    for key, value in result.items():
        print(f"{key:<18}{value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
