"""Time the server adds to a turn that carries a 1 MB PNG (target: p50 <= 20 ms).

Two measurements:

* in process, the server's own steps for the image: decode the request body (msgspec, as the
  handler does), save the image (base64 decode, type and size checks, the upload row in SQLite
  and its bytes on disk), build the upstream request (the image inlined as a ``data:`` URL)
  and serialise it (``msgspec``, as the provider does before the ``openai`` client sends it);
* end to end through a real ``jupyter server`` and the scripted upstream (its own process):
  a persisted ``stream: false`` turn with the PNG minus the same turn without it, paired. This
  also counts moving 1.4 MB of base64 over loopback twice and the upstream parsing it: the
  same pair sent to the upstream directly is printed as a baseline.

Usage: python benchmarks/vision_turn.py [runs=60] [megabytes=1]
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _chat import AUTH, Upstream, new_chat, pct, post, start_oui
from support.png import noise_png


def summary(name: str, values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    p50, p95 = statistics.median(ms), pct(ms, 0.95)
    print(f"{name:<44} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   (n={len(ms)})")
    return {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}


def turn_body(chat_id: str, png: bytes | None) -> dict[str, Any]:
    content: Any = "What does this plot show?"
    if png is not None:
        url = f"data:image/png;base64,{base64.b64encode(png).decode()}"
        content = [
            {"type": "text", "text": content},
            {"type": "image_url", "image_url": {"url": url}},
        ]
    return {
        "model": "fast",
        "chat_id": chat_id,
        "stream": False,
        "messages": [{"role": "user", "content": content}],
    }


def in_process(png: bytes, runs: int) -> dict[str, float]:
    from oui_jupyter.providers.connections import Connection
    from oui_jupyter.providers.openai_compat import OpenAICompatProvider
    from oui_jupyter.services.models import ResolvedModel
    from oui_jupyter.services.retrieval.files import FileService
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.services.vision import VisionService
    from oui_jupyter.store import migrate
    from oui_jupyter.store.db import Database
    from oui_jupyter.store.knowledge_store import KnowledgeStore
    from oui_jupyter.store.users import UserStore

    tmp = tempfile.TemporaryDirectory()
    db = Database(f"sqlite:///{tmp.name}/oui.db")
    migrate.upgrade(db.engine)
    files = FileService(KnowledgeStore(db), None, f"{tmp.name}/uploads")  # type: ignore[arg-type]
    vision = VisionService(files)
    user = UserInfo("bench", "bench", "bench", "admin", ())
    UserStore(db).upsert("bench", name="bench", display_name="bench", role="admin", groups=[])
    provider = OpenAICompatProvider(Connection(idx="0", base_url="http://127.0.0.1:9/v1"))
    model = ResolvedModel("fast", "fast", provider, vision=True)
    raw = json.dumps(turn_body("c", png)).encode()

    async def one() -> float:
        t0 = time.perf_counter()
        body = msgspec.json.decode(raw)
        message = body["messages"][-1]
        saved = await vision.save_new(user, model, message["content"], [])
        assert saved is not None
        prompt = await vision.inline(user, model, [{**message, "content": saved.content}], saved)
        msgspec.json.encode({"model": "fast", "messages": prompt, "stream": True})
        return time.perf_counter() - t0

    async def run() -> list[float]:
        for _ in range(5):
            await one()
        return [await one() for _ in range(runs)]

    try:
        return summary("in process (parse, save, build, serialise)", asyncio.run(run()))
    finally:
        files.close()
        db.engine.dispose()
        tmp.cleanup()


def end_to_end(png: bytes, runs: int) -> dict[str, float]:
    upstream = Upstream()
    server = start_oui(upstream)
    try:
        post(
            server,
            "/oui/api/v1/openai/config/update",
            {"OPENAI_API_CONFIGS": {"0": {"vision": True}}},
        )
        chat = new_chat(server)
        bodies = {True: turn_body(chat, png), False: turn_body(chat, None)}
        encoded = {k: json.dumps(v).encode() for k, v in bodies.items()}  # outside the timer

        direct = {
            k: json.dumps({**v, "chat_id": None}).encode()  # the upstream ignores chat_id
            for k, v in bodies.items()
        }

        def timed(image: bool, upstream_only: bool = False) -> float:
            url = (
                f"{upstream.base_url}/chat/completions"
                if upstream_only
                else (f"{server.url}/oui/api/chat/completions")
            )
            request = urllib.request.Request(
                url,
                data=(direct if upstream_only else encoded)[image],
                method="POST",
                headers={**AUTH, "Content-Type": "application/json"},
            )
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = response.read()
            elapsed = time.perf_counter() - t0
            assert b"tok0" in answer, answer[:200]
            return elapsed

        for _ in range(5):
            timed(True), timed(False)
        with_image, without, added = [], [], []
        for _ in range(runs):
            a, b = timed(True), timed(False)
            with_image.append(a)
            without.append(b)
            added.append(a - b)
        summary("end to end, turn with the PNG", with_image)
        summary("end to end, the same turn without it", without)
        result = summary("end to end, added by the PNG (paired)", added)
        baseline = [timed(True, True) - timed(False, True) for _ in range(runs)]
        result["upstream_alone"] = summary("the upstream alone, added by the PNG", baseline)
        return result
    finally:
        server.stop()
        upstream.stop()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    megabytes = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    png = noise_png(int(megabytes * 1024 * 1024))
    print(f"PNG of {len(png):,} bytes ({len(png) * 4 // 3:,} as base64)")
    result = {
        "png_bytes": len(png),
        "in_process": in_process(png, runs),
        "end_to_end_added": end_to_end(png, runs),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
