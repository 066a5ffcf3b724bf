"""Text for the output area: sources, search hits, models, chats, index status, code blocks."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from oui_jupyter.notebook import safe_html
from oui_jupyter.notebook.client import Hit

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _label(hit: Hit) -> str:
    where = hit.where
    return f"{hit.path} ({where})" if where else hit.path


def _md_escape(text: str) -> str:
    return re.sub(r"([\[\]])", r"\\\1", text)


def sources_markdown(hits: list[Hit]) -> str:
    if not hits:
        return ""
    lines = ["", "---", "**Sources**", ""]
    for number, hit in enumerate(hits, 1):
        lines.append(f"{number}. [{_md_escape(_label(hit))}]({hit.link})")
    return "\n".join(lines)


def sources_text(hits: list[Hit]) -> str:
    if not hits:
        return ""
    return "\nSources:\n" + "\n".join(f"  [{n}] {_label(h)}" for n, h in enumerate(hits, 1))


def _snippet(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _source_data(hit: Hit) -> str:
    """The cited place as ``data-oui-*`` attributes: the frontend extension opens it inside the
    app the user is in (JupyterLab: the file, at the cell or lines; Notebook 7: its own page)
    instead of following the link, which can only name one app (JupyterLab)."""
    values = {
        "source": hit.path,
        "cell": hit.cell,
        "start-line": hit.start_line,
        "end-line": hit.end_line,
    }
    return "".join(
        f' data-oui-{name}="{html.escape(str(value))}"'
        for name, value in values.items()
        if value is not None
    )


def _href(link: str) -> str:
    return link if safe_html.safe_url(link) else "#"


def hits_html(query: str, hits: list[Hit]) -> str:
    if not hits:
        return f"<p>No results for <b>{html.escape(query)}</b> in the workspace.</p>"
    rows = []
    for hit in hits:
        rows.append(
            '<li class="oui-hit">'
            f'<a href="{html.escape(_href(hit.link))}" target="_blank"{_source_data(hit)}>{html.escape(hit.path)}</a>'
            + (f' <span class="oui-where">{html.escape(hit.where)}</span>' if hit.where else "")
            + f"<br><code>{html.escape(_snippet(hit.snippet))}</code></li>"
        )
    return f'<ol class="oui-hits">{"".join(rows)}</ol>'


def hits_text(hits: list[Hit]) -> str:
    return "\n".join(
        f"{n}. {_label(h)}\n   {_snippet(h.snippet, 160)}" for n, h in enumerate(hits, 1)
    )


def models_bundle(models: list[dict[str, Any]], current: str | None) -> dict[str, str]:
    """``%oui models``: a table (names come from connections and admins: escaped)."""
    if not models:
        text = "No models: add a connection in the sidebar's settings."
        return {"text/html": f"<p>{html.escape(text)}</p>", "text/plain": text}
    header = ("", "model", "name", "from")
    rows = [
        (
            "✓" if model.get("id") == current else "",
            str(model.get("id", "")),
            str(model.get("name", ""))
            + (" (unavailable)" if model.get("available") is False else ""),
            str(model.get("owned_by", "")),
        )
        for model in models
    ]
    return {
        "text/html": safe_html.table_html(header, rows),
        "text/plain": safe_html.table_text(header, rows),
    }


def chats_bundle(chats: list[dict[str, Any]], current: str | None) -> dict[str, str]:
    """``%oui chats``: a table (titles come from users, models and imports: escaped)."""
    if not chats:
        text = "No chats yet: a %%chat cell starts one."
        return {"text/html": f"<p>{html.escape(text)}</p>", "text/plain": text}
    header = ("", "title", "id")
    rows = [
        (
            "✓" if chat.get("id") == current else "",
            str(chat.get("title", "")),
            str(chat.get("id", "")),
        )
        for chat in chats
    ]
    return {
        "text/html": safe_html.table_html(header, rows),
        "text/plain": safe_html.table_text(header, rows),
    }


def status_text(status: dict[str, Any]) -> str:
    def pick(*keys: str) -> Any:
        for key in keys:
            if key in status and status[key] is not None:
                return status[key]
        return None

    files_done = pick("files_indexed", "files_done", "files")
    files_total = pick("files_total")
    chunks = pick("chunks_indexed", "chunks", "chunks_total")
    embedded = pick("chunks_embedded", "embedded")
    pending = pick("pending", "files_pending")
    model = pick("embedding_model", "model")
    state = pick("state")
    parts = [str(state)] if state else []
    if files_done is not None:
        parts.append(
            f"{files_done}" + (f"/{files_total}" if files_total is not None else "") + " files"
        )
    if chunks is not None:
        parts.append(f"{chunks} chunks")
    if embedded is not None:
        parts.append(f"{embedded} embedded")
    if pending is not None:
        parts.append(f"{pending} pending")
    if model:
        parts.append(f"model {model}")
    if not parts:
        return "Workspace index: " + json.dumps(status, default=str)
    return "Workspace index: " + ", ".join(parts)


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of an answer (the whole answer when it has none)."""
    blocks = [body.rstrip() for _lang, body in _FENCE.findall(text) if body.strip()]
    return blocks if blocks else ([text.strip()] if text.strip() else [])


def json_value(text: str) -> Any:
    """The JSON in an answer: a fenced block, else the outermost object/array."""
    for block in code_blocks(text):
        try:
            return json.loads(block)
        except ValueError:
            pass
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if starts:
        start = min(starts)
        end = max(text.rfind("}"), text.rfind("]"))
        if end > start:
            return json.loads(text[start : end + 1])
    return json.loads(text)
