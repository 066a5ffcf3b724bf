"""Against the real llama.cpp server: a stop really stops the generation upstream.

The request bans the end-of-sequence tokens and asks for 3,000 tokens (~40 s of work at
~80 tokens/s here), so the server would stay busy long after the stop if the upstream stream
were not closed. Two signs show it stops: its process stops using CPU, and a new request,
which that server runs only after the previous one (``--interrupt_requests False``), is
answered.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from chat.helpers import frames_until, is_done, llama_settings

pytestmark = pytest.mark.llm

# SmolLM2's <|endoftext|>, <|im_start|> and <|im_end|>: banned, so the answer never ends by itself.
NO_EOS = {"0": -100, "1": -100, "2": -100}
BUSY = {"max_tokens": 3000, "temperature": 0.0, "logit_bias": NO_EOS}


@pytest.fixture
def oui_extra_config(llama_server: str) -> dict[str, Any]:
    return llama_settings(llama_server)


def server_pid(base_url: str) -> int:
    """The pid of the process serving ``base_url`` (found by its ``--port`` argument)."""
    port = base_url.rsplit(":", 1)[1].split("/")[0]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"llama_cpp.server" in args and port.encode() in args:
            return int(proc.name)
    raise AssertionError(f"no llama.cpp server process on port {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_used_over(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return cpu_seconds(pid) - before


async def wait_idle(pid: int, tries: int = 40) -> bool:
    for _ in range(tries):
        if await cpu_used_over(pid, 0.5) < 0.1:
            return True
    return False


async def test_stop_closes_the_llama_stream_and_generation_stops(
    api, new_chat, ws_connect, llama_server
):
    pid = server_pid(llama_server)
    assert await wait_idle(pid), "the llama.cpp server is busy before the test"
    ws = await ws_connect()
    chat_id = await new_chat(model="smollm2")
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "chat_id": chat_id,
            "session_id": "s",
            "messages": [{"role": "user", "content": "Count from one to one thousand."}],
            **BUSY,
        },
    )
    assert r.code == 200, r.body
    message_id = r.json()["message_id"]
    await frames_until(
        ws, lambda f: f.get("message_id") == message_id and "delta" in (f.get("data") or {})
    )
    # Generating: the server burns CPU.
    assert await cpu_used_over(pid, 0.5) > 0.2
    stopped = (await api("POST", f"tasks/chat/{chat_id}/stop")).json()
    assert stopped["status"] is True
    frames = await frames_until(ws, is_done(message_id))
    assert frames[-1]["data"]["stopped"] is True
    # The server goes idle (it would need ~40 s more to finish the 3,000 tokens).
    assert await wait_idle(pid, tries=20), "the llama.cpp server kept generating after the stop"
    # And it takes a new request at once (it serves one request at a time).
    async with httpx.AsyncClient(timeout=20) as client:
        answer = await client.post(
            f"{llama_server}/chat/completions",
            json={
                "model": "smollm2",
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 2,
            },
        )
    assert (
        answer.status_code == 200 and answer.json()["choices"][0]["message"]["role"] == "assistant"
    )
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    saved = chat["history"]["messages"][message_id]
    assert saved["done"] is True and saved["stopped"] is True and saved["content"]
    assert saved["content"] == frames[-1]["data"]["content"]


async def test_stop_of_an_http_stream_against_llama(api, new_chat, oui_url, llama_server):
    """The openai client streams through oui; a stop ends the stream cleanly ([DONE])."""
    import openai

    pid = server_pid(llama_server)
    assert await wait_idle(pid)
    chat_id = await new_chat(model="smollm2")
    async with openai.AsyncOpenAI(base_url=oui_url, api_key="alice-token", max_retries=0) as oai:
        stream = await oai.chat.completions.create(
            model="smollm2",
            stream=True,
            messages=[{"role": "user", "content": "Count to 1000."}],
            extra_body={"chat_id": chat_id, **{k: v for k, v in BUSY.items() if k != "max_tokens"}},
            max_tokens=BUSY["max_tokens"],
        )
        text, stop_sent = "", False
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if text and not stop_sent:
                stop_sent = True
                assert (await api("POST", f"tasks/chat/{chat_id}/stop")).json()["status"] is True
    assert stop_sent and text
    assert await wait_idle(pid, tries=20), "the llama.cpp server kept generating after the stop"
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()["chat"]
    answer = next(m for m in chat["history"]["messages"].values() if m["role"] == "assistant")
    assert answer["stopped"] is True and answer["content"] == text
