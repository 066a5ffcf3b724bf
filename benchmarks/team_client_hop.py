"""Time a team client server's hop adds (issue #16): a stand-in team service (a real
``jupyter server`` process running oui, tests/team/client_support.py) and alice's server in
team client mode as another process, against the scripted OpenAI upstream.

    PYTHONPATH=$PWD:$PWD/tests python benchmarks/team_client_hop.py [n]

Prints p50/p99 of a GET (``v1/users/user``) and of the time to first token of a streaming
``chat/completions``, straight to the service and through alice's server, with one
keep-alive client each (the hop's own connection to the service is kept alive too); then the
time to first token a single-user oui server gives on the same upstream, and what the team
hop adds over it."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from support.oui_process import TOKEN, OuiProcess
from support.scripted_openai import ScriptedOpenAI
from team.client_support import TEAM_TOKEN, ClientProcess, TeamServiceProcess

BODY = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def measure(url: str, token: str, n: int) -> tuple[list[float], list[float]]:
    headers = {"Authorization": f"token {token}"}
    gets: list[float] = []
    ttfts: list[float] = []
    async with httpx.AsyncClient() as client:
        for i in range(n + 5):
            t0 = time.perf_counter()
            response = await client.get(f"{url}/oui/api/v1/users/user", headers=headers)
            assert response.status_code == 200, response.text
            if i >= 5:
                gets.append(time.perf_counter() - t0)
        for i in range(n + 5):
            t0 = time.perf_counter()
            async with client.stream(
                "POST", f"{url}/oui/api/chat/completions", json=BODY, headers=headers
            ) as response:
                async for line in response.aiter_lines():
                    if "tok0" in line:
                        if i >= 5:
                            ttfts.append(time.perf_counter() - t0)
                        break
    return gets, ttfts


def main(n: int) -> None:
    upstream = ScriptedOpenAI().start()
    root = Path(tempfile.mkdtemp(prefix="oui-hop-"))
    service = TeamServiceProcess(
        root / "service", f"sqlite:///{root / 'team.db'}", upstream.base_url
    ).start()
    client = ClientProcess(root / "client", service, "--OuiJupyter.index_workspace=False")
    client.args.remove("--OuiJupyter.index_workspace=True")
    client.start()
    single = OuiProcess(root / "single", f"sqlite:///{root / 'single.db'}", upstream.base_url)
    single.start()
    try:
        alone = asyncio.run(measure(single.url, TOKEN, n))
        direct = asyncio.run(measure(service.url, TEAM_TOKEN, n))
        hop = asyncio.run(measure(client.url, TOKEN, n))
    finally:
        single.stop()
        client.stop()
        service.stop()
        upstream.stop()
    for name, a, b in (("GET v1/users/user", direct[0], hop[0]), ("TTFT", direct[1], hop[1])):
        print(
            f"{name}: service p50 {pct(a, 0.5):.2f} ms p99 {pct(a, 0.99):.2f} ms | via the "
            f"client p50 {pct(b, 0.5):.2f} ms p99 {pct(b, 0.99):.2f} ms | added p50 "
            f"{(statistics.median(b) - statistics.median(a)) * 1000:.2f} ms"
        )
    ttft_single, ttft_team = alone[1], hop[1]
    print(
        f"TTFT single-user server p50 {pct(ttft_single, 0.5):.2f} ms p99 "
        f"{pct(ttft_single, 0.99):.2f} ms | team (user server -> service -> upstream) p50 "
        f"{pct(ttft_team, 0.5):.2f} ms p99 {pct(ttft_team, 0.99):.2f} ms | added by the team "
        f"hop p50 {(statistics.median(ttft_team) - statistics.median(ttft_single)) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
