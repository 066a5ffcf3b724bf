"""``workspace_search``: the hybrid workspace index, hits with their citations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from oui_jupyter.services.retrieval.indexer import WORKSPACE
from oui_jupyter.services.retrieval.rag import build_context

from .base import BlockingTool, ToolContext, ToolLimits, ToolResult

if TYPE_CHECKING:
    from oui_jupyter.services.retrieval.service import RetrievalService

_TEMPLATE = "{{CONTEXT}}"


class WorkspaceSearchTool(BlockingTool):
    name = "workspace_search"
    workspace = True
    description = (
        "Search the files and notebooks of the workspace (keywords and meaning together). "
        "Each hit is a numbered <source> with its file, cell and lines: cite it as [n]."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 2000},
            "k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
            "path": {
                "type": "string",
                "maxLength": 1024,
                "description": "only files matching this glob, e.g. 'src/*.py'",
            },
            "mode": {"enum": ["hybrid", "keyword", "vector"]},
        },
        "required": ["query"],
        "additionalProperties": False,
    }

    def __init__(self, retrieval: RetrievalService, limits: ToolLimits) -> None:
        self.retrieval = retrieval
        self.limits = limits

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        query = args["query"]
        filters = {"path": args["path"]} if args.get("path") else None
        flt = self.retrieval.resolve_filter([WORKSPACE], context.user, filters)
        result = self.retrieval.search(
            query, k=int(args.get("k", 5)), flt=flt, mode=args.get("mode")
        )
        block, sources = build_context(
            result.hits, query, template=_TEMPLATE, budget_chars=self.limits.max_output_chars
        )
        content = block or f"no workspace file matches '{query}'"
        return ToolResult(
            content,
            {"query": query, "retrievers": result.retrievers, "hits": len(sources)},
            sources,
        )
