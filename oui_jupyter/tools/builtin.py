"""The built-in read-only tools, built with their collaborators and limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Tool, ToolLimits
from .files import ListFilesTool, ReadFileTool
from .notebook import ReadNotebookTool
from .search import WorkspaceSearchTool
from .sql import SqlTool

if TYPE_CHECKING:
    from oui_jupyter.services.retrieval.service import RetrievalService


def builtin_tools(retrieval: RetrievalService | None, limits: ToolLimits) -> list[Tool]:
    """``workspace_search`` (when there is a workspace index), ``read_file``,
    ``read_notebook``, ``list_files`` and ``sql``."""
    tools: list[Tool] = [
        ReadFileTool(limits),
        ReadNotebookTool(limits),
        ListFilesTool(limits),
        SqlTool(limits),
    ]
    if retrieval is not None:
        tools.insert(0, WorkspaceSearchTool(retrieval, limits))
    return tools
