"""20 simulated users on the team service: one replica, then two (round-robin), one PostgreSQL.

Each user (``u0``...``u19``, their own chats) runs a closed loop for ``seconds`` seconds, one
request at a time, of this mix: list their chats (``GET v1/chats/``), append a message to a chat
(``POST v1/chats/{id}``, Open WebUI's save), create a chat (``POST v1/chats/new``) and a streamed,
persisted completion (``POST chat/completions`` with ``chat_id``, 20 deltas from a scripted
upstream in its own process). With two replicas each request goes to the next replica in turn.
Printed: p50/p99 per route, errors (any status but 200, or a failed request), throughput.

Usage: python benchmarks/team_load.py [users=20] [seconds=15]
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
from _chat import Upstream
from _team import fresh_database, p50, pct, replicas

MIX = ["list", "append", "list", "completion", "list", "append", "create", "completion"]


class Load:
    def __init__(self, urls: list[str]) -> None:
        self.urls = itertools.cycle(urls)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    async def request(
        self, client: httpx.AsyncClient, route: str, user: str, method: str, path: str, **kw: Any
    ) -> Any:
        url = f"{next(self.urls)}/oui/api/{path}"
        headers = {"Authorization": f"token {user}-token"}
        t0 = time.perf_counter()
        try:
            if route == "completion":
                async with client.stream(method, url, headers=headers, **kw) as response:
                    body = b"".join([chunk async for chunk in response.aiter_bytes()])
                    ok = response.status_code == 200 and b"[DONE]" in body
                    status = response.status_code
                data = None
            else:
                response = await client.request(method, url, headers=headers, **kw)
                status, ok = response.status_code, response.status_code == 200
                data = response.json() if ok else None
        except httpx.HTTPError as error:
            self.errors[route].append(f"{type(error).__name__}")
            return None
        self.times[route].append(time.perf_counter() - t0)
        if not ok:
            self.errors[route].append(str(status))
        return data

    async def user(self, client: httpx.AsyncClient, index: int, deadline: float) -> int:
        user = f"u{index}"
        chat = await self.request(
            client,
            "create",
            user,
            "POST",
            "v1/chats/new",
            json={"chat": {"title": f"{user} chat", "models": ["fast"]}},
        )
        chat_id = chat["id"] if chat else None
        parent = None
        done = 0
        for op in itertools.cycle(MIX[index % len(MIX) :] + MIX[: index % len(MIX)]):
            if time.perf_counter() > deadline:
                return done
            done += 1
            if op == "list" or chat_id is None:
                await self.request(client, "list", user, "GET", "v1/chats/")
            elif op == "create":
                await self.request(
                    client,
                    "create",
                    user,
                    "POST",
                    "v1/chats/new",
                    json={"chat": {"title": "another", "models": ["fast"]}},
                )
            elif op == "append":
                mid = uuid.uuid4().hex
                message = {
                    "id": mid,
                    "parentId": parent,
                    "role": "user",
                    "content": "a note " * 20,
                    "timestamp": int(time.time()),
                }
                history = {"messages": {mid: message}, "currentId": mid}
                await self.request(
                    client,
                    "append",
                    user,
                    "POST",
                    f"v1/chats/{chat_id}",
                    json={"chat": {"history": history}},
                )
                parent = mid
            else:
                body = {
                    "model": "fast",
                    "stream": True,
                    "chat_id": chat_id,
                    "x_chunks": 20,
                    "messages": [{"role": "user", "content": "Count"}],
                }
                await self.request(
                    client, "completion", user, "POST", "chat/completions", json=body
                )
        return done


async def run(urls: list[str], users: int, seconds: float) -> tuple[Load, float, int]:
    load = Load(urls)
    limits = httpx.Limits(max_connections=users * 2, max_keepalive_connections=users * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(load.user(client, i, t0 + seconds) for i in range(users)))
        wall = time.perf_counter() - t0
    return load, wall, sum(counts)


def report(name: str, load: Load, wall: float) -> None:
    total = sum(len(v) for v in load.times.values())
    errors = sum(len(v) for v in load.errors.values())
    print(f"{name}: {total} requests in {wall:.1f} s = {total / wall:.1f} req/s, {errors} errors")
    for route in ("list", "append", "create", "completion"):
        ms = [t * 1000 for t in load.times.get(route, [])]
        bad = load.errors.get(route, [])
        print(
            f"  {route:<11} n={len(ms):<5} p50 {p50(ms):7.1f} ms  p99 {pct(ms, 0.99):7.1f} ms"
            f"  errors {len(bad)}{' ' + ','.join(sorted(set(bad))) if bad else ''}"
        )


async def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    upstream = Upstream()
    print(f"{users} users, {seconds:g} s per configuration, mix {MIX}")
    try:
        for count in (1, 2):
            with (
                fresh_database() as database_url,
                replicas(database_url, upstream.base_url, count) as started,
            ):
                load, wall, _ = await run([r.url for r in started], users, seconds)
                report(f"{count} replica{'s' if count > 1 else ''}", load, wall)
    finally:
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
