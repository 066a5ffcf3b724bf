"""kill -9 while an answer streams: after a restart on the same data the user message and the
text checkpointed before the kill are there, the answer is marked interrupted, and the chat
takes a new turn (and the answer can be continued). A real server process, on disk."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.oui_process import OuiProcess

pytestmark = pytest.mark.storage

INTERVAL = 0.25
TOKENS = 4000  # at 100 tokens/s: far longer than the test


def tokens(text: str) -> list[str]:
    return text.split()


def wait_for(predicate: Any, timeout: float = 90.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; the timeout is a safety net, not a measurement."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met before the safety timeout"
        time.sleep(interval)


def answer_of(server: OuiProcess, chat_id: str, message_id: str) -> dict[str, Any] | None:
    status, chat = server.request("GET", f"oui/api/v1/chats/{chat_id}")
    assert status == 200, chat
    return chat["chat"]["history"]["messages"].get(message_id)


def test_a_killed_server_keeps_the_partial_answer(
    tmp_path: Path, oui_database_url: str, scripted_openai: Any
) -> None:
    server = OuiProcess(
        tmp_path,
        oui_database_url,
        scripted_openai.base_url,
        f"--OuiJupyter.checkpoint_interval={INTERVAL}",
    )
    server.start()
    try:
        status, chat = server.request(
            "POST", "oui/api/v1/chats/new", {"chat": {"title": "t", "models": ["slow"]}}
        )
        assert status == 200, chat
        chat_id = chat["id"]
        status, started = server.request(
            "POST",
            "oui/api/chat/completions",
            {
                "model": "slow",
                "chat_id": chat_id,
                "session_id": "s",
                "stream": True,
                "messages": [{"role": "user", "content": "Count slowly"}],
                "x_chunks": TOKENS,
                "x_delay": 0.01,
            },
        )
        assert status == 200, started
        answer_id, user_id = started["message_id"], started["user_message_id"]
        # Let it stream a while, note what a reader sees, give it a few checkpoints, then kill.
        wait_for(
            lambda: (
                len(tokens((answer_of(server, chat_id, answer_id) or {}).get("content", ""))) >= 50
            )
        )
        seen = answer_of(server, chat_id, answer_id)
        assert seen is not None and seen["done"] is False
        time.sleep(6 * INTERVAL)
        server.kill()

        server.start()
        answer = wait_for(
            lambda: (a := answer_of(server, chat_id, answer_id)) and a.get("interrupted") and a
        )
        assert answer["done"] is True and "error" not in answer
        # Everything seen before the last checkpoints is there, and nothing but the answer's text.
        saved = tokens(answer["content"])
        assert len(saved) >= len(tokens(seen["content"])), (
            len(saved),
            len(tokens(seen["content"])),
        )
        assert saved == [f"tok{i}" for i in range(len(saved))]
        assert len(saved) < TOKENS
        status, chat = server.request("GET", f"oui/api/v1/chats/{chat_id}")
        messages = chat["chat"]["history"]["messages"]
        assert messages[user_id]["content"] == "Count slowly" and messages[user_id][
            "childrenIds"
        ] == [answer_id]
        assert chat["chat"]["history"]["currentId"] == answer_id

        # The chat takes a new turn after the interrupted answer...
        status, reply = server.request(
            "POST",
            "oui/api/chat/completions",
            {
                "model": "fast",
                "chat_id": chat_id,
                "messages": [{"role": "user", "content": "Again"}],
            },
        )
        assert status == 200, reply
        assert reply["choices"][0]["message"]["content"] == "".join(f"tok{i} " for i in range(8))
        status, chat = server.request("GET", f"oui/api/v1/chats/{chat_id}")
        messages = chat["chat"]["history"]["messages"]
        assert messages[reply["user_message_id"]]["parentId"] == answer_id
        assert messages[reply["message_id"]]["done"] is True
        # ...and the interrupted answer can be continued: the same message, no longer interrupted.
        status, more = server.request(
            "POST",
            "oui/api/chat/completions",
            {
                "model": "fast",
                "chat_id": chat_id,
                "parent_id": answer_id,
                "continue": True,
                "messages": [
                    {"role": "user", "content": "Count slowly"},
                    {"role": "assistant", "content": answer["content"]},
                ],
            },
        )
        assert status == 200, more
        assert more["message_id"] == answer_id
        continued = answer_of(server, chat_id, answer_id)
        assert (
            continued is not None and continued["done"] is True and "interrupted" not in continued
        )
        assert continued["content"] == answer["content"] + "".join(f"tok{i} " for i in range(8))
    finally:
        server.stop()
