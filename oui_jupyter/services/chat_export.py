"""A chat's current branch as Markdown or as a notebook (nbformat 4, built by hand)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, NamedTuple

from oui_jupyter import json_pieces
from oui_jupyter.schemas.chats import ChatResponse

FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
CODE_LANGUAGES = {"", "python", "py", "python3", "ipython"}


def _heading(message: dict[str, Any]) -> str:
    role = str(message.get("role", "")).capitalize()
    model = message.get("model")
    return f"{role} ({model})" if model and message.get("role") == "assistant" else role


def rating_line(message: dict[str, Any]) -> str | None:
    """The message's rating (its ``annotation``) in a line: thumbs, 1-10, reason, comment."""
    annotation = message.get("annotation")
    if not isinstance(annotation, dict) or annotation.get("rating") not in (1, -1):
        return None
    parts = [
        "Rated: "
        + ("\N{THUMBS UP SIGN} good" if annotation["rating"] == 1 else "\N{THUMBS DOWN SIGN} bad")
    ]
    details = annotation.get("details")
    score = details.get("rating") if isinstance(details, dict) else None
    if isinstance(score, int) and not isinstance(score, bool):
        parts.append(f"{score}/10")
    for key in ("reason", "comment"):
        text = annotation.get(key)
        if isinstance(text, str) and text.strip():
            parts.append(" ".join(text.split()))
    return " \N{EM DASH} ".join(parts)


def to_markdown(chat: ChatResponse) -> str:
    lines = [f"# {chat.title}", ""]
    for message in chat.chat.get("messages", []):
        lines += [f"### {_heading(message)}", "", str(message.get("content", "")).rstrip(), ""]
        rating = rating_line(message)
        if rating:
            lines += [f"*{rating}*", ""]
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict):
                lines += [_tool_call_line(call), ""]
        for n, source in enumerate(message.get("sources") or [], start=1):
            if isinstance(source, dict):
                lines.append(f"[{n}] {_source_label(source)}")
        if message.get("sources"):
            lines.append("")
    return "\n".join(lines)


def _tool_call_line(call: dict[str, Any]) -> str:
    """One kept tool call as a Markdown quote: name, arguments, status and the result's start."""
    result = " ".join(str(call.get("result") or "").split())
    if len(result) > 200:
        result = result[:200] + "…"
    return (
        f"> Tool `{call.get('name', '')}` ({call.get('status', '')}): "
        f"`{' '.join(str(call.get('arguments') or '').split())}` → {result}"
    )


def _source_label(source: dict[str, Any]) -> str:
    label = str(source.get("source") or source.get("name") or "source")
    if source.get("cell") is not None:
        label += f", cell {source['cell']}"
    if source.get("start_line") is not None:
        label += f", lines {source['start_line']}-{source.get('end_line', source['start_line'])}"
    if source.get("page") is not None:
        label += f", page {source['page']}"
    return label


def _cell(cell_type: str, text: str) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "id": uuid.uuid4().hex[:12],
        "cell_type": cell_type,
        "metadata": {},
        "source": text,
    }
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _split_answer(text: str) -> list[dict[str, Any]]:
    """Markdown cells, with fenced Python blocks as code cells."""
    cells: list[dict[str, Any]] = []
    position = 0
    for match in FENCE.finditer(text):
        if match.group(1).lower() not in CODE_LANGUAGES:
            continue
        before = text[position : match.start()].strip()
        if before:
            cells.append(_cell("markdown", before))
        cells.append(_cell("code", match.group(2).rstrip("\n")))
        position = match.end()
    rest = text[position:].strip()
    if rest:
        cells.append(_cell("markdown", rest))
    return cells


def to_notebook(chat: ChatResponse) -> dict[str, Any]:
    cells = [_cell("markdown", f"# {chat.title}")]
    for message in chat.chat.get("messages", []):
        content = str(message.get("content", ""))
        if message.get("role") == "assistant":
            cells.append(_cell("markdown", f"**{_heading(message)}:**"))
            cells.extend(_split_answer(content))
            rating = rating_line(message)
            if rating:
                cells.append(_cell("markdown", f"*{rating}*"))
        else:
            quoted = "\n".join(f"> {line}" for line in content.splitlines()) or ">"
            cells.append(_cell("markdown", f"**{_heading(message)}:**\n\n{quoted}"))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "oui": {"chat_id": chat.id},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def to_ipynb_text(chat: ChatResponse) -> str:
    return json.dumps(to_notebook(chat), indent=1, ensure_ascii=False)


class Export(NamedTuple):
    body: bytes
    content_type: str
    filename: str | None  # None: shown, not downloaded


def render(chat: ChatResponse, fmt: str) -> Export:
    """The chat as ``fmt`` (``json``, ``markdown`` or ``ipynb``)."""
    if fmt == "json":
        return Export(json_pieces.encode([chat]), "application/json", None)
    stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in chat.title)[:80] or "chat"
    if fmt == "markdown":
        return Export(to_markdown(chat).encode(), "text/markdown; charset=UTF-8", f"{stem}.md")
    return Export(to_ipynb_text(chat).encode(), "application/x-ipynb+json", f"{stem}.ipynb")
