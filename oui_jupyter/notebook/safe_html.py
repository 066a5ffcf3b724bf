"""Text from a model, a chat or a file as HTML that cannot run and fetches nothing.

Kernel outputs are trusted in JupyterLab: the HTML sanitizer is skipped for them, so a
``text/markdown`` output with ``<img onerror>`` in it runs in the Jupyter origin. Every output
path of ours therefore renders Markdown here, with raw HTML off (it shows as text), only safe
link targets kept (``javascript:`` and the like stay plain text), and remote images shown as a
link to click instead of being fetched when the output appears.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|webp);", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_renderer: Any = None


def safe_url(url: str) -> bool:
    """A link target that does nothing but navigate: http(s), mailto, or a relative URL.

    Control characters and spaces are dropped first, as browsers do (``java\\tscript:``)."""
    cleaned = _CONTROL.sub("", html.unescape(url))
    if _DATA_IMAGE.match(cleaned):
        return True
    match = _SCHEME.match(cleaned)
    return match is None or match.group(1).lower() in _SAFE_SCHEMES


def remote_host(url: str) -> str | None:
    """The host of an absolute or protocol-relative URL (``None`` for a same-origin one)."""
    cleaned = _CONTROL.sub("", url)
    if cleaned.startswith("//") or _SCHEME.match(cleaned):
        if _DATA_IMAGE.match(cleaned):
            return None
        return urlsplit(cleaned).hostname or "another site"
    return None


def _image(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    host = remote_host(src)
    if host is None:
        return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'
    label = f"image from {host}" + (f": {alt}" if alt else "")
    return (
        f'<a class="oui-remote-image" href="{html.escape(src)}" target="_blank" '
        f'rel="noopener noreferrer nofollow" title="Open the image (not loaded)">'
        f"🖼 {html.escape(label)}</a>"
    )


def _link_open(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    if remote_host(str(token.attrGet("href") or "")) is not None:
        token.attrSet("target", "_blank")
        token.attrSet("rel", "noopener noreferrer nofollow")
    return str(self.renderToken(tokens, idx, options, env))


def _markdown() -> Any:
    global _renderer
    if _renderer is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        md.enable(["table", "strikethrough"])
        md.validateLink = safe_url  # type: ignore[method-assign]  # markdown-it's documented hook
        md.add_render_rule("image", _image)
        md.add_render_rule("link_open", _link_open)
        _renderer = md
    return _renderer


def markdown_html(text: str) -> str:
    """Markdown as inert HTML: no raw HTML, no active links, no remote fetches."""
    return str(_markdown().render(text))


def bundle(text: str) -> dict[str, str]:
    """A display bundle for ``text`` (Markdown): sanitized HTML, and the text as plain."""
    return {
        "text/html": f'<div class="oui-markdown">{markdown_html(text)}</div>',
        "text/plain": text,
    }


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of plain-text cells (every cell escaped)."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="oui-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def table_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The same table as aligned plain text."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table
    )
