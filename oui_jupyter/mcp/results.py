"""An MCP ``CallToolResult`` as a ``ToolResult``: the text for the model, the rest named.

Text blocks are kept as they are; an embedded text resource is shown with its URI; images,
audio, binary resources and resource links become one line each that says what they were
(the model reads text, and the message history keeps no binary data). A result the server
marks ``isError`` is a ``ToolError`` with its text, so the loop reports it as an error.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import mcp_types as types

from oui_jupyter.tools.base import ToolError, ToolResult, clip


def _size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


def block_text(block: Any) -> str:
    """One content block as text."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, (types.ImageContent, types.AudioContent)):
        return f"[{block.type}: {block.mime_type}, {_size(block.data)} bytes]"
    if isinstance(block, types.ResourceLink):
        mime = f", {block.mime_type}" if block.mime_type else ""
        return f"[resource link: {block.uri} ({block.name}{mime})]"
    if isinstance(block, types.EmbeddedResource):
        res = block.resource
        if isinstance(res, types.TextResourceContents):
            return f"[resource {res.uri}]\n{res.text}"
        mime = res.mime_type or "application/octet-stream"
        return f"[resource {res.uri}: {mime}, {_size(res.blob)} bytes]"
    return f"[{getattr(block, 'type', 'content')}]"


def _kinds(blocks: list[Any]) -> list[str]:
    return [str(getattr(b, "type", "?")) for b in blocks]


def to_tool_result(
    result: types.CallToolResult, *, server: str, tool: str, max_chars: int
) -> ToolResult:
    """``result`` as the registry's ``ToolResult`` (``ToolError`` when it is an error)."""
    parts = [block_text(b) for b in result.content]
    text = "\n".join(p for p in parts if p)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False, default=str)
    content, cut = clip(text, max_chars)
    if result.is_error:
        raise ToolError(content or f"{tool} on MCP server {server} failed")
    structured = result.structured_content
    if structured is not None and len(json.dumps(structured, default=str)) > max_chars:
        structured, cut = None, True  # kept on the message: no larger than the text
    data = {
        "server": server,
        "tool": tool,
        "content_types": _kinds(result.content),
        "structured_content": structured,
        "truncated": cut,
    }
    return ToolResult(content or "(no content)", data)
