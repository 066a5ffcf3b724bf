"""Helpers for the chat tests: SSE parsing and WebSocket frames."""
from __future__ import annotations

import asyncio
import json
from typing import Any


def sse_events(body: bytes) -> list[tuple[str, Any]]:
    """``[(event name, data)]`` of an SSE body; ``data`` is JSON-decoded unless ``[DONE]``."""
    events = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        payload = "\n".join(data)
        events.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return events


def sse_text(body: bytes) -> str:
    text = ""
    for name, data in sse_events(body):
        if name == "message" and isinstance(data, dict) and data.get("choices"):
            text += data["choices"][0].get("delta", {}).get("content") or ""
    return text


async def next_frame(ws: Any, timeout: float = 30.0) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.read_message(), timeout)
    assert message is not None, "socket closed"
    return json.loads(message)


async def frames_until(ws: Any, predicate: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Read frames until one satisfies ``predicate``; returns all of them."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await next_frame(ws, max(0.1, deadline - loop.time()))
        frames.append(frame)
        if predicate(frame):
            return frames


def services_of(jp_serverapp: Any) -> Any:
    services = jp_serverapp.web_app.settings["oui_runtime"].services
    assert services is not None
    return services


