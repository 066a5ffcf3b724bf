"""The built-in tools, built with their collaborators and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Tool, ToolLimits
from .files import ListFilesTool, ReadFileTool
from .notebook import ReadNotebookTool
from .search import WorkspaceSearchTool
from .sql import SqlTool

if TYPE_CHECKING:
    from oui_jupyter.services.notebook_files import NotebookFiles
    from oui_jupyter.services.retrieval.service import RetrievalService

    from .kernel import Kernels


@dataclass(frozen=True)
class JupyterTools:
    """The server's side of the kernel and notebook tools: notebooks through the contents
    manager (with undo checkpoints), kernels through the session and kernel managers."""

    files: NotebookFiles
    kernels: Kernels


def builtin_tools(
    retrieval: RetrievalService | None, limits: ToolLimits, *, jupyter: JupyterTools | None = None
) -> list[Tool]:
    """``workspace_search`` (when there is a workspace index), ``read_file``,
    ``read_notebook``, ``list_files`` and ``sql``; with ``jupyter`` (a server), also
    ``kernel_variables``, ``describe_variable``, ``edit_notebook`` and ``run_cells``."""
    tools: list[Tool] = [
        ReadFileTool(limits),
        ReadNotebookTool(limits),
        ListFilesTool(limits),
        SqlTool(limits),
    ]
    if retrieval is not None:
        tools.insert(0, WorkspaceSearchTool(retrieval, limits))
    if jupyter is not None:
        from .notebook_edit import EditNotebookTool, RunCellsTool
        from .variables import DescribeVariableTool, KernelVariablesTool

        tools += [
            KernelVariablesTool(jupyter.kernels, limits),
            DescribeVariableTool(jupyter.kernels, limits),
            EditNotebookTool(jupyter.files, limits),
            RunCellsTool(jupyter.files, jupyter.kernels, limits),
        ]
    return tools
