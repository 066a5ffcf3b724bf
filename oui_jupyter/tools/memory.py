"""``remember``: the model keeps a fact about the calling user among their memories
(``v1/memories``), to be put in the system prompt of their later turns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from oui_jupyter.schemas.library import MAX_MEMORY_CHARS

from .base import BlockingTool, ToolContext, ToolResult

if TYPE_CHECKING:
    from oui_jupyter.services.memories import MemoryService


class RememberTool(BlockingTool):
    name = "remember"
    read_only = False  # it adds a memory, without asking: MCP clients are told it writes
    description = (
        "Remember a fact about the user for later conversations (their preferences, their "
        "project, how they like answers). One short, self-contained sentence per call."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "content": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_MEMORY_CHARS,
                "description": "the fact, e.g. 'Prefers polars over pandas'",
            }
        },
        "required": ["content"],
        "additionalProperties": False,
    }

    def __init__(self, memories: MemoryService) -> None:
        self.memories = memories

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        memory = self.memories.add(context.user, args["content"])
        return ToolResult(
            f"Remembered: {memory.content}",
            {"id": memory.id, "content": memory.content, "created_at": memory.created_at},
        )
