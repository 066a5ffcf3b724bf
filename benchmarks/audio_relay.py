"""Transcription relay overhead: a 30 s WAV clip posted to the scripted upstream directly vs
through oui's ``v1/audio/transcriptions`` (upload read, bounded, checked, relayed as
multipart, answer relayed back).

The upstream (``tests/support/scripted_media.py``, its own process) reads the multipart form
and answers at once, or after ``delay`` seconds standing in for the model's work (a fast
GPU whisper takes ~0.3-1 s for 30 s of speech); each client keeps its connection alive and
the two paths alternate. Overhead = (p50 through oui - p50 direct) / p50 direct. The CPU
time each server process spends per transcription is read from ``/proc`` (Linux): on a
loaded machine wall times mostly measure waiting for a core, CPU time does not.

Usage: python audio_relay.py [repeats=40] [delays=0,0.3] [rate=16000]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from _server import TOKEN, JupyterServer, free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.scripted_media import wav_bytes


def form(clip: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    return head + clip + f"\r\n--{boundary}--\r\n".encode(), boundary


def upstream(delay: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "support" / "scripted_media.py"),
            "--port",
            str(port),
            "--transcribe-delay",
            str(delay),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().decode().strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    t0 = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, response.text
    assert response.json()["text"].startswith("heard "), response.text
    return elapsed


def measure(delay: float, repeats: int, clip: bytes) -> dict[str, float]:
    proc, base_url = upstream(delay)
    os.environ["AUDIO_STT_ENGINE"] = "openai"
    server = JupyterServer(
        True,
        [
            f"--OuiJupyter.openai_api_base_urls={base_url}",
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.index_workspace=False",
            "--OuiJupyter.embedding_engine=openai",
            "--OuiJupyter.embedding_base_url=http://127.0.0.1:9/v1",
        ],
    )
    try:
        server.start()
        body, boundary = form(clip)
        kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        auth = {"Authorization": f"token {TOKEN}", **kind}
        paths = {
            "direct": (f"{base_url}/audio/transcriptions", kind),
            "oui": (f"{server.url}/oui/api/v1/audio/transcriptions", auth),
        }
        times: dict[str, list[float]] = {name: [] for name in paths}
        with httpx.Client(timeout=60) as direct, httpx.Client(timeout=60) as relayed:
            clients = {"direct": direct, "oui": relayed}
            for _ in range(3):  # warm: connections, the services, the first relay
                for name, (url, headers) in paths.items():
                    timed(clients[name], url, body, headers)
            cpu = {name: 0.0 for name in paths}
            pids = {"direct": proc.pid, "oui": server.proc.pid}  # type: ignore[union-attr]
            for _ in range(repeats):
                for name, (url, headers) in paths.items():
                    before = cpu_seconds(pids[name])
                    times[name].append(timed(clients[name], url, body, headers))
                    cpu[name] += cpu_seconds(pids[name]) - before
        direct_p50 = statistics.median(times["direct"]) * 1000
        oui_p50 = statistics.median(times["oui"]) * 1000
        return {
            "delay_s": delay,
            "clip_bytes": len(clip),
            "direct_p50_ms": round(direct_p50, 2),
            "oui_p50_ms": round(oui_p50, 2),
            "added_ms": round(oui_p50 - direct_p50, 2),
            "overhead_pct": round(100 * (oui_p50 - direct_p50) / direct_p50, 1),
            # CPU per transcription: the upstream's own (direct), oui's (relayed)
            "upstream_cpu_ms": round(1000 * cpu["direct"] / repeats, 2),
            "oui_cpu_ms": round(1000 * cpu["oui"] / repeats, 2),
            "load_average": round(os.getloadavg()[0], 1),
        }
    finally:
        server.stop()
        proc.terminate()
        proc.wait(10)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    delays = [float(d) for d in (sys.argv[2] if len(sys.argv) > 2 else "0,0.3").split(",")]
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else 16000
    clip = wav_bytes(30.0, rate=rate)
    results = [measure(delay, repeats, clip) for delay in delays]
    for r in results:
        print(
            f"30 s WAV ({r['clip_bytes'] / 1e6:.2f} MB), upstream work {r['delay_s']:g} s: "
            f"direct {r['direct_p50_ms']:.1f} ms, through oui {r['oui_p50_ms']:.1f} ms, "
            f"+{r['added_ms']:.1f} ms ({r['overhead_pct']:+.1f}%); CPU: upstream "
            f"{r['upstream_cpu_ms']:.1f} ms, oui {r['oui_cpu_ms']:.1f} ms; load {r['load_average']}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
