"""Titles and tags written by the real SmolLM2 (llama.cpp) after a chat's first answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.polling import eventually

from chat.helpers import llama_settings, services_of
from oui_jupyter.services.title_text import NOT_TAGS, fallback_title

pytestmark = pytest.mark.llm

# Longer than 60 characters, so the old title (its first 60) ends inside a word.
PROMPT = (
    "I have a CSV file with sales data per month. How do I plot the monthly totals with pandas?"
)


@pytest.fixture
def oui_extra_config(llama_server: str) -> dict[str, Any]:
    return llama_settings(llama_server, enable_title_generation=True, enable_tags_generation=True)


async def test_the_first_turn_gets_a_title_and_no_junk_tags(api, new_chat, jp_serverapp):
    # As the sidebar does: the chat is created titled with the prompt's beginning.
    placeholder = fallback_title(PROMPT)
    chat_id = await new_chat(title=placeholder)
    r = await api(
        "POST",
        f"v1/chats/{chat_id}/message",
        {"content": PROMPT, "params": {"max_tokens": 48, "temperature": 0.0}},
    )
    assert r.code == 200, r.body
    answer = r.json()["content"]
    registry = services_of(jp_serverapp).completions.titles.registry
    await eventually(lambda: not registry._tasks, timeout=300)  # title, then tags
    chat = (await api("GET", f"v1/chats/{chat_id}")).json()
    title = chat["title"]
    assert title and title != "New Chat"
    assert title != PROMPT[:60] and title != placeholder  # written by the model
    assert len(title) <= 60 and "\n" not in title
    conversation = set(re.findall(r"[a-z]+", f"{PROMPT} {answer}".lower()))
    tags = [t["name"] for t in (await api("GET", f"v1/chats/{chat_id}/tags")).json()]
    for tag in tags:  # none, or words of the conversation
        for word in tag.split():
            assert word not in NOT_TAGS
            assert any(w.startswith(word[:4]) for w in conversation), (tag, answer)
