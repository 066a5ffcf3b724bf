"""The text of an OpenAI chat message's ``content``."""

from __future__ import annotations

from typing import Any


def text_of(content: Any) -> str:
    """A message's text, whether ``content`` is a string or OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""
