"""The service's side of ``workspace_context``: merged into the one RAG block sent upstream,
stored as the answer's sources, the stored user message is what the user wrote; bad shapes
get 422, too many or too large sources 413 (single-user server: the same handlers)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def oui_extra_config(scripted_openai: Any) -> dict[str, Any]:
    return {
        "openai_api_base_urls": [scripted_openai.base_url],
        "openai_api_keys": ["sk-scripted"],
        "local_model_enabled": False,
        "index_workspace": False,
        "enable_title_generation": False,
        "enable_tags_generation": False,
    }


def source(text: str, path: str = "lab/notes.md", score: float = 0.9) -> dict[str, Any]:
    return {
        "source": {"id": path, "name": path, "type": "workspace", "collection": "workspace"},
        "document": [text],
        "metadata": [{"source": path, "collection": "workspace", "start_line": 1}],
        "path": path,
        "score": score,
    }


async def test_workspace_context_is_merged_and_the_user_message_kept(
    api: Any, scripted_openai: Any
) -> None:
    chat = (await api("POST", "v1/chats/new", {"chat": {"title": "t"}})).json()
    typed = "What runs the warp core?"
    turn = await api(
        "POST",
        f"v1/chats/{chat['id']}/message",
        {
            "content": typed,
            "model": "fast",
            "workspace_context": {"sources": [source("The warp core runs on dilithium.")]},
        },
    )
    assert turn.code == 200, turn.body
    assert turn.json()["sources"][0]["path"] == "lab/notes.md"
    upstream = scripted_openai.requests[-1]
    assert "workspace_context" not in upstream  # not a model parameter
    sent = upstream["messages"][-1]["content"]
    assert "dilithium" in sent and typed in sent and '<source id="1"' in sent
    stored = (await api("GET", f"v1/chats/{chat['id']}")).json()
    users = [m for m in stored["chat"]["messages"] if m["role"] == "user"]
    assert [m["content"] for m in users] == [typed]

    done = await api(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "messages": [{"role": "user", "content": "and the shields?"}],
            "workspace_context": {"sources": [source("Shields draw on the EPS grid.", "a.md")]},
        },
    )
    assert done.code == 200, done.body
    assert "EPS grid" in scripted_openai.requests[-1]["messages"][-1]["content"]


@pytest.mark.parametrize(
    ("context", "status"),
    [
        ({"sources": "no"}, 422),
        ({"sources": [{"document": "not a list"}]}, 422),
        ({"sources": [{"document": [""]}]}, 422),
        ({"sources": [], "extra": 1}, 422),
        ({"sources": [source("x")] * 33}, 413),
        ({"sources": [source("y" * 16_001)]}, 413),
        ({"sources": [source("z" * 15_000)] * 5}, 413),
    ],
)
async def test_bad_workspace_context_is_refused(
    api: Any, scripted_openai: Any, context: Any, status: int
) -> None:
    body = {
        "model": "fast",
        "messages": [{"role": "user", "content": "q"}],
        "workspace_context": context,
    }
    refused = await api("POST", "chat/completions", body)
    assert refused.code == status, refused.body
    assert refused.json()["message"]
    assert scripted_openai.requests == []  # refused before any upstream call
