"""What a tool is: its spec, the context of a call, its result and its errors.

A tool is any object with ``name``, ``description``, ``parameters`` (a JSON Schema of type
``object``), ``requires_approval`` and an ``async run(args, context) -> ToolResult``. The
tool loop and the MCP server call ``ToolRegistry.run``, which checks the arguments against
``parameters`` first: ``run`` receives valid arguments only. ``BlockingTool`` is the base
of tools whose work blocks (files, DuckDB): ``call`` runs in a worker thread.

A tool that reads or changes the user's workspace (files, notebooks, kernels) says so with a
class attribute ``workspace = True`` (``needs_workspace``; default False). The oui team
service has no user files: its registry refuses such tools, and a team client server runs
them itself for the turns it forwards (``tools/channel.py``, ``team/client/tool_channel.py``).
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from oui_jupyter.errors import InvalidInput

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo

#: what OpenAI accepts as a function name
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolError(InvalidInput):
    """The tool refused its arguments or could not do the work; the message is meant for
    the model (the tool loop sends it back as the ``tool`` message) and for the user."""


class ToolTimeout(ToolError):
    """The tool ran past its time limit."""


@dataclass(frozen=True)
class ToolContext:
    """Who calls, where, and for which chat. ``root_dir``: the workspace the file tools are
    confined to; ``notebook_path``: the notebook the chat is about (relative to the root),
    for tools that act on it."""

    user: UserInfo
    root_dir: str
    chat_id: str | None = None
    message_id: str | None = None
    call_id: str | None = None
    notebook_path: str | None = None


@dataclass
class ToolResult:
    """``content``: what the model reads (the ``tool`` message); ``data``: the same answer as
    JSON, for the message's stored ``tool_calls`` and the UI; ``sources``: citations in the
    shape of a message's ``sources`` (``services/retrieval/rag.make_sources``)."""

    content: str
    data: Any = None
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, "data": self.data, "sources": self.sources}


@runtime_checkable
class Tool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, Any]: ...

    @property
    def requires_approval(self) -> bool: ...

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult: ...


def needs_workspace(tool: Any) -> bool:
    """Whether ``tool`` works on the user's workspace (its ``workspace`` attribute)."""
    return getattr(tool, "workspace", False) is True


def function_spec(tool: Tool) -> dict[str, Any]:
    """The OpenAI function schema of ``tool`` (what ``tools[].function`` holds)."""
    return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}


def openai_tool(tool: Tool) -> dict[str, Any]:
    """``tool`` as an entry of a chat completion's ``tools``."""
    return {"type": "function", "function": function_spec(tool)}


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
#: threads that run blocking tool work: their own, so that long queries never hold up
#: the threads the request handlers use (``asyncio.to_thread``)
TOOL_THREADS = 4


def tool_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(TOOL_THREADS, thread_name_prefix="oui-tool")
        return _pool


class BlockingTool:
    """Base of tools whose work blocks: subclasses set the class attributes and ``call``,
    which runs in the tools' own threads (``tool_pool``)."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]
    requires_approval: ClassVar[bool] = False
    #: the tool reads or changes the user's files, notebooks or kernels (``needs_workspace``)
    workspace: ClassVar[bool] = False

    async def run(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(tool_pool(), self.call, args, context)

    def call(self, args: dict[str, Any], context: ToolContext) -> ToolResult:
        raise NotImplementedError


@dataclass(frozen=True)
class ToolLimits:
    """Limits of the built-in tools (each from the ``OuiJupyter`` traitlet of the same
    name with ``tool_`` in front, see ``app.py``)."""

    max_output_chars: int = 20_000  # of one result's ``content``
    max_lines: int = 500  # read_file: lines in one answer
    max_file_bytes: int = 50 * 1024 * 1024  # read_file counts lines, read_notebook parses
    max_list_entries: int = 1000  # list_files: entries in one answer
    list_scan_entries: int = 200_000  # list_files: entries looked at, at most
    sql_timeout: float = 30.0  # seconds, then the query is interrupted
    sql_max_rows: int = 1000  # the most a call may ask for
    sql_memory_limit: str = ""  # DuckDB's memory_limit for one query ("": DuckDB's default)
    max_cell_chars: int = 200  # sql: the longest value shown
    kernel_timeout: float = 10.0  # kernel_variables, describe_variable: seconds for an answer
    run_cell_timeout: float = 60.0  # run_cells: seconds one cell may run, then it is interrupted
    max_run_output_bytes: int = 2 * 1024 * 1024  # run_cells: outputs kept of one cell
    max_source_chars: int = 100_000  # edit_notebook: the longest source of one cell


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, with a note when cut; and whether it was."""
    if len(text) <= limit:
        return text, False
    return text[:limit] + f"\n... [cut at {limit} characters]", True
