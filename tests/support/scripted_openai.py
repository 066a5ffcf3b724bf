"""A scripted OpenAI-compatible server for fault injection and benchmarks.

A tiny asyncio HTTP/1.1 server (keep-alive, chunked SSE) in a background thread, or in its own
process (``python tests/support/scripted_openai.py --port 8123``). What it does is chosen by the
request's ``model``:

==================  ==========================================================================
``fast``            streams ``x_chunks`` (default 8) deltas ``"tok{i} "`` at once, then usage
``slow``            the same, sleeping ``x_delay`` seconds (default 0.05) before each chunk
``cut``             streams 3 deltas, then drops the connection mid-stream (no final chunk)
``error500``        answers 500 with an OpenAI error body (``error400``, ``error404``... too)
``hang``            accepts the request and never answers (for timeouts)
``stall``           sends the SSE headers and one delta, then nothing (a read timeout mid-stream)
``badjson``         sends a chunk that is not JSON
``toolcall``        native function calling: while rounds of ``tool_script`` are left and the
                    request offers ``tools``, says ``"Checking. "`` and calls the round's tools
                    (streamed ``tool_calls`` deltas, arguments in two pieces; ids
                    ``call_<round>_<i>``); then answers ``"Tool said: "`` + each ``tool``
                    message's content
``nbagent``         native function calling, a notebook agent: when offered ``edit_notebook``
                    and ``run_cells``, inserts the code cell ``print(6*7)`` at the end; when
                    the result names the new cell (``inserted cell N (id X, ...)``), runs it
                    by its id; then answers ``"Tool said: "`` + the ``tool`` messages
``jsoncall``        prompt-based calling: while rounds are left and the system prompt offers
                    tools, answers the text ``{"tool": name, "arguments": {...}}`` (in a code
                    fence); then ``"Tool said: "`` + the tool results it was told
==================  ==========================================================================

``tool_script``: per round, the calls as ``(name, arguments)``; empty: one round calling the
first offered tool (``toolcall``; ``echo`` for ``jsoncall``) with ``{"text": "hi"}``.

``x_stamp: true`` makes each streamed delta the wall-clock time it was sent (``"<time.time()> "``),
for measuring delivery delays.

``stream: false`` gets a ``chat.completion`` of the same text. ``GET /v1/models`` lists these
models (``list_delay`` makes it slow, ``list_status`` makes it fail, ``list_gate``, a
``threading.Event``, holds every answer until it is set; ``list_requests`` counts the calls). Every completion request body is recorded in ``requests`` and its headers in ``headers``;
streams the client closed before their end are counted in ``closed_early``. ``replies`` maps a
substring of the last user message (else of a leading system message) to the answer's text
(split into one delta per word), for scripting answers such as titles and tags.

Fixtures: ``scripted_openai`` (function scope: the session's server, its records cleared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

MODELS = [
    "fast",
    "slow",
    "cut",
    "error500",
    "error400",
    "hang",
    "stall",
    "badjson",
    "toolcall",
    "nbagent",
    "jsoncall",
]

NB_CELL = "print(6*7)"


class ScriptedOpenAI:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: dict[str, str] = {}
        self.tool_script: list[list[tuple[str, dict[str, Any]]]] = []
        self.list_requests = 0
        self.closed_early = 0
        self.completed = 0
        self.list_delay = 0.0
        self.list_status = 200
        self.list_gate: threading.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def reset(self) -> None:
        self.requests.clear()
        self.headers.clear()
        self.replies.clear()
        self.tool_script = []
        self.list_requests = 0
        self.closed_early = 0
        self.completed = 0
        self.list_delay = 0.0
        self.list_status = 200
        self.list_gate = None

    # ----- lifecycle -----
    def start(self) -> ScriptedOpenAI:
        self._thread = threading.Thread(target=self._run, name="scripted-openai", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    # ----- HTTP -----
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                keep = await self._route(method, path, body, writer, headers)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    @staticmethod
    def _json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            500: "Internal Server Error",
        }.get(status, "Error")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )

    def _words(self, request: dict[str, Any], chunks: int) -> list[str]:
        messages = request.get("messages") or [{}]
        last = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
        content = str(last.get("content") or "")
        system = (
            str(messages[0].get("content") or "") if messages[0].get("role") == "system" else ""
        )
        for text in (content, system):
            for key, reply in self.replies.items():
                if key in text:
                    words = reply.split(" ")
                    return [w + " " for w in words[:-1]] + [words[-1]]
        return [f"tok{i} " for i in range(chunks)]

    def _tool_round(self, request: dict[str, Any], model: str) -> tuple[list[Any], str | None]:
        """``(calls of this round, None)`` or ``([], the answer)`` for the tool models."""
        messages = request.get("messages") or []
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
        if model == "nbagent":
            return self._notebook_round(request, messages[last_user + 1 :])
        if model == "toolcall":
            after = messages[last_user + 1 :]
            done = sum(1 for m in after if m.get("role") == "assistant" and m.get("tool_calls"))
            results = [str(m.get("content") or "") for m in after if m.get("role") == "tool"]
            offered = [t["function"]["name"] for t in request.get("tools") or []]
        else:
            system = " ".join(
                str(m.get("content") or "") for m in messages if m.get("role") == "system"
            )
            told = [
                str(m.get("content") or "")
                for m in messages
                if m.get("role") == "user" and "answered:" in str(m.get("content") or "")
            ]
            done = len(told)
            results = [t.split("answered:\n", 1)[-1].split("\n\n")[0] for t in told]
            offered = (
                ["echo"] if "To call a tool" in system and "no more tools" not in system else []
            )
        script = self.tool_script or ([[(offered[0], {"text": "hi"})]] if offered else [])
        if offered and done < len(script):
            return list(script[done]), None
        return [], "Tool said: " + " | ".join(results)

    @staticmethod
    def _notebook_round(
        request: dict[str, Any], after: list[dict[str, Any]]
    ) -> tuple[list[Any], str | None]:
        """``nbagent``: insert ``print(6*7)``, run the cell the edit made, answer."""
        offered = {t["function"]["name"] for t in request.get("tools") or []}
        results = [str(m.get("content") or "") for m in after if m.get("role") == "tool"]
        answer = "Tool said: " + " | ".join(results)
        if not {"edit_notebook", "run_cells"} <= offered:
            return [], answer
        if not results:
            return [("edit_notebook", {"operations": [{"op": "insert", "source": NB_CELL}]})], None
        if len(results) == 1:
            found = re.search(r"inserted cell \d+ \(id ([^,]+),", results[0])
            if found:
                return [("run_cells", {"cells": [found.group(1)]})], None
        return [], answer

    async def _route(
        self,
        method: str,
        path: str,
        body: bytes,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
    ) -> bool:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            self.list_requests += 1
            if self.list_delay:
                await asyncio.sleep(self.list_delay)
            gate = self.list_gate
            while gate is not None and not gate.is_set():
                await asyncio.sleep(0.01)
            if self.list_status != 200:
                self._json(writer, self.list_status, {"error": {"message": "models unavailable"}})
            else:
                data = [
                    {"id": m, "object": "model", "created": 0, "owned_by": "scripted"}
                    for m in MODELS
                ]
                self._json(writer, 200, {"object": "list", "data": data})
            await writer.drain()
            return True
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            self._json(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            await writer.drain()
            return True
        request = json.loads(body or b"{}")
        self.requests.append(request)
        self.headers.append(headers)
        model = request.get("model", "fast")
        if model.startswith("error"):
            status = int(model[5:] or 500)
            self._json(
                writer,
                status,
                {"error": {"message": f"scripted failure {status}", "type": "server_error"}},
            )
            await writer.drain()
            return True
        if model == "hang":
            await asyncio.sleep(3600)
            return False
        chunks = int(request.get("x_chunks", 8))
        delay = float(request.get("x_delay", 0.05 if model == "slow" else 0.0))
        words = self._words(request, chunks)
        calls: list[Any] = []
        if model in ("toolcall", "nbagent", "jsoncall"):
            calls, answer = self._tool_round(request, model)
            if answer is not None:
                words = [w + " " for w in answer.split(" ")[:-1]] + [answer.split(" ")[-1]]
            elif model == "jsoncall":
                name, args = calls[0]
                text = "```json\n" + json.dumps({"tool": name, "arguments": args}) + "\n```"
                words, calls = [text[:5], text[5:]], []
            else:
                words = ["Checking. "]
        tool_calls = [
            {
                "id": f"call_{len(self.requests)}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ]
        if not request.get("stream"):
            if delay:
                await asyncio.sleep(delay)
            self._json(
                writer,
                200,
                {
                    "id": "chatcmpl-scripted",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": "".join(words),
                                **({"tool_calls": tool_calls} if tool_calls else {}),
                            },
                            "finish_reason": "tool_calls" if tool_calls else "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 5,
                        "completion_tokens": len(words),
                        "total_tokens": 5 + len(words),
                    },
                },
            )
            await writer.drain()
            return True
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )

        def event(payload: Any) -> None:
            data = (
                b"data: "
                + (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
                + b"\n\n"
            )
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def chunk(
            delta: dict[str, Any], finish: str | None = None, usage: Any = None
        ) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage:
                payload["usage"] = usage
            return payload

        try:
            event(chunk({"role": "assistant", "content": ""}))
            await writer.drain()
            if model == "badjson":
                event(b"{not json")
                await writer.drain()
            stamp = bool(request.get("x_stamp"))
            for i, word in enumerate(words):
                if delay:
                    await asyncio.sleep(delay)
                event(chunk({"content": f"{time.time():.6f} " if stamp else word}))
                await writer.drain()
                if model == "cut" and i == 2:
                    writer.transport.abort()
                    return False
                if model == "stall" and i == 0:
                    await asyncio.sleep(3600)
            for i, call in enumerate(tool_calls):
                arguments = call["function"]["arguments"]
                half = len(arguments) // 2
                first = {**call, "index": i, "function": {**call["function"], "arguments": ""}}
                event(chunk({"tool_calls": [first]}))
                for piece in (arguments[:half], arguments[half:]):
                    event(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
            await writer.drain()
            event(
                chunk(
                    {},
                    "tool_calls" if tool_calls else "stop",
                    {
                        "prompt_tokens": 5,
                        "completion_tokens": len(words),
                        "total_tokens": 5 + len(words),
                    },
                )
            )
            event(b"[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            self.completed += 1
        except (ConnectionError, RuntimeError):
            self.closed_early += 1
            return False
        return True


@pytest.fixture(scope="session")
def scripted_openai_server() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def scripted_openai(scripted_openai_server: ScriptedOpenAI) -> Iterator[ScriptedOpenAI]:
    """The session's scripted server with its records cleared: ``.base_url`` ends in ``/v1``.
    Cleared again afterwards, so that a script (``tool_script``, ``replies``) set by one test
    never reaches a later one that uses the session's server directly."""
    scripted_openai_server.reset()
    yield scripted_openai_server
    scripted_openai_server.reset()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    server = ScriptedOpenAI(port=args.port).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
