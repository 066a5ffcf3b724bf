"""RAG through the whole server: the workspace index, a chat turn with the real SmolLM2
(llama.cpp server), sources streamed first and stored on the answer, pointing at the cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chat.helpers import llama_settings, sse_events, sse_text
from support.polling import wait_indexed

from retrieval.helpers import make_workspace

pytestmark = pytest.mark.llm

QUESTION = "How deep can an emperor penguin dive compared with other birds?"
SHORT = {"max_tokens": 24, "temperature": 0.0}
LLM_TIMEOUT = 180.0  # a RAG prompt is ~1,500 tokens: seconds for the tiny model on 2 busy cores


@pytest.fixture
def oui_extra_config(jp_root_dir: Path, llama_server: str) -> dict[str, Any]:
    make_workspace(jp_root_dir)
    return llama_settings(llama_server, index_start_delay=0.0, index_poll_interval=0.3)


async def new_chat(api: Any) -> str:
    r = await api("POST", "v1/chats/new", {"chat": {"title": "RAG", "models": ["smollm2"]}})
    assert r.code == 200, r.body
    return r.json()["id"]


def assistant(chat: dict[str, Any], message_id: str) -> dict[str, Any]:
    return chat["chat"]["history"]["messages"][message_id]


async def test_workspace_turn_streams_and_stores_sources_of_the_cell(api):
    await wait_indexed(api, timeout=60.0)
    chat_id = await new_chat(api)
    r = await api(
        "POST",
        "chat/completions",
        {
            "model": "smollm2",
            "stream": True,
            "chat_id": chat_id,
            "features": {"workspace": True},
            "messages": [{"role": "user", "content": QUESTION}],
            **SHORT,
        },
        timeout=LLM_TIMEOUT,
    )
    assert r.code == 200, r.body
    events = sse_events(r.body)
    # What the turn does comes first (status chunks), then the sources, before any token.
    statuses = [data for _, data in events if isinstance(data, dict) and "status" in data]
    assert statuses[0]["status"] == {"description": "Searching the workspace…", "done": False}
    assert all(s["choices"] == [] for s in statuses)
    first = next(data for _, data in events if isinstance(data, dict) and "status" not in data)
    assert first["choices"] == [] and first["object"] == "chat.completion.chunk"
    sources = first["sources"]
    assert sources[0]["path"] == "analysis.ipynb"
    assert sources[0]["cell"] == 3 and sources[0]["cell_id"] == "emperor-cell"
    assert "emperor penguin" in sources[0]["snippet"]
    assert sse_text(r.body).strip() and events[-1] == ("message", "[DONE]")
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()
    answer = next(m for m in chat["chat"]["messages"] if m["role"] == "assistant")
    assert answer["sources"] == sources and answer["content"] == sse_text(r.body)
    # The user message keeps what was asked, not the RAG prompt built from it.
    question = next(m for m in chat["chat"]["messages"] if m["role"] == "user")
    assert question["content"] == QUESTION


async def test_message_route_with_a_file_cites_only_that_file(api):
    await wait_indexed(api, timeout=60.0)
    chat_id = await new_chat(api)
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {
            "content": "What does the Aurora project do when the dome does not open?",
            "files": [{"type": "path", "path": "docs/README.md"}],
            "params": SHORT,
        },
        timeout=LLM_TIMEOUT,
    )
    assert r.code == 200, r.body
    message = r.json()
    assert message["sources"] and {s["path"] for s in message["sources"]} == {"docs/README.md"}
    hit = message["sources"][0]
    assert hit["start_line"] >= 1 and hit["end_line"] >= hit["start_line"]
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()
    assert assistant(chat, message["id"])["sources"] == message["sources"]


async def test_custom_model_knowledge_is_retrieved_without_being_named(api):
    await wait_indexed(api, timeout=60.0)
    r = await api("POST", "v1/knowledge/create", {"name": "Geometry", "description": "the code"})
    assert r.code == 200, r.body
    kid = r.json()["id"]
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"path": "src/geometry.py"})
    assert r.code == 200, r.body
    r = await api(
        "POST",
        "v1/models/create",
        {
            "id": "geometry-helper",
            "name": "Geometry helper",
            "base_model_id": "smollm2",
            "meta": {"knowledge": [{"id": kid, "name": "Geometry", "type": "collection"}]},
            "params": {"system": "Answer from the sources."},
        },
    )
    assert r.code == 200, r.body
    chat_id = await new_chat(api)
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {
            "content": "How is the area of a circle computed?",
            "model": "geometry-helper",
            "params": SHORT,
        },
        timeout=LLM_TIMEOUT,
    )
    assert r.code == 200, r.body
    message = r.json()
    assert message["model"] == "geometry-helper"
    assert message["sources"] and {s["path"] for s in message["sources"]} == {"src/geometry.py"}
    # Without the custom model, the same turn retrieves nothing.
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {
            "content": "How is the area of a circle computed?",
            "model": "smollm2",
            "params": SHORT,
        },
        timeout=LLM_TIMEOUT,
    )
    assert r.code == 200, r.body
    assert "sources" not in r.json()
