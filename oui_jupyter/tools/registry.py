"""``ToolRegistry``: every tool the server knows, and which of them a user may use.

Sources: ``builtin`` (this package), ``entrypoint`` (installed packages' entry points in
group ``oui_jupyter.tools``, loaded on first use) and ``mcp`` (the tools of the admin's MCP
servers, added and removed by their client, an async source that ``ready`` awaits).
An entry point names a tool object, a tool class or a factory (called with no
arguments) that returns a tool or a list of them; anything else, a bad name or schema, or
a name already taken is logged and skipped. A registry made with ``workspace_tools=False``
(the oui team service, which has no user files) refuses every tool that declares
``workspace = True`` (``base.needs_workspace``), whatever its source. Who may use a tool is ``authz.can_use_tool``
over its ``access_control`` (the admin's setting for the name, else the tool's own
attribute; none: everyone).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from oui_jupyter.errors import InvalidInput, NotFound
from oui_jupyter.services.authz import can_use_tool, validate_access_control
from oui_jupyter.services.users import UserInfo

from .base import (
    NAME_PATTERN,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    ToolTimeout,
    function_spec,
    needs_workspace,
)
from .schema import check_schema, parse_arguments, validate_arguments

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "oui_jupyter.tools"
#: ``client``: a team client server's tool, run there for one turn (``tools/channel.py``)
Source = Literal["builtin", "entrypoint", "mcp", "client"]


@dataclass(frozen=True)
class Registered:
    tool: Tool
    source: Source
    access_control: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.tool.name

    def describe(self) -> dict[str, Any]:
        """The ``GET v1/tools/`` entry."""
        return {
            "id": self.id,
            "name": self.tool.name,
            "meta": {"description": self.tool.description},
            "spec": function_spec(self.tool),
            "source": self.source,
            "requires_approval": bool(self.tool.requires_approval),
        }


def check_tool(tool: Any) -> Tool:
    """``tool`` if it has what a tool needs, else ``ValueError`` saying what is missing."""
    name = getattr(tool, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"name {name!r} is not 1-64 letters, digits, '_' or '-'")
    if not isinstance(getattr(tool, "description", None), str):
        raise ValueError(f"{name}: description must be a string")
    check_schema(getattr(tool, "parameters", {}))
    if not isinstance(getattr(tool, "requires_approval", None), bool):
        raise ValueError(f"{name}: requires_approval must be True or False")
    if not inspect.iscoroutinefunction(getattr(tool, "run", None)):
        raise ValueError(f"{name}: run must be an async method run(args, context)")
    checked: Tool = tool
    return checked


class ToolRegistry:
    def __init__(
        self,
        builtins: Iterable[Tool] = (),
        *,
        access: dict[str, Any] | None = None,
        entry_points: bool = True,
        timeout: float = 120.0,
        load_entry_points: Callable[[], Iterable[Any]] | None = None,
        workspace_tools: bool = True,
    ) -> None:
        """``access``: tool name -> ``access_control`` set by the admin; ``timeout``: the
        most seconds one call may take (tools with blocking work have their own limits);
        ``workspace_tools``: False where there is no user workspace (the team service)."""
        self.workspace_tools = workspace_tools
        self._access = {name: _admin_rule(name, rule) for name, rule in (access or {}).items()}
        self._tools: dict[str, Registered] = {}
        self._lock = threading.Lock()
        self._entry_points_loaded = not entry_points
        self._load_entry_points = load_entry_points or _installed_entry_points
        self.timeout = timeout
        self._sources: list[Callable[[], Awaitable[None]]] = []
        for tool in builtins:
            self.add(tool, "builtin")

    # -- what is there -----------------------------------------------------------------
    def add(self, tool: Tool, source: Source) -> Registered:
        """Register ``tool``; ``ValueError`` when it is not a tool or its name is taken."""
        check_tool(tool)
        if not self.workspace_tools and needs_workspace(tool):
            raise ValueError(
                f"{tool.name} works on the user's workspace, which this server does not have"
            )
        with self._lock:
            if tool.name in self._tools:
                raise ValueError(f"a tool named {tool.name!r} is already registered")
            own = getattr(tool, "access_control", None)
            try:
                rule = self._access[tool.name] if tool.name in self._access else own
                entry = Registered(tool, source, validate_access_control(rule))
            except InvalidInput as exc:
                raise ValueError(f"{tool.name}: {exc.message}") from None
            self._tools[tool.name] = entry
            return entry

    def add_source(self, load: Callable[[], Awaitable[None]]) -> None:
        """A source whose tools come and go (the MCP servers' client): ``ready`` awaits
        ``load`` before tools are listed or run. ``load`` decides what is left to do (it
        connects once, then retries in the background) and never raises."""
        self._sources.append(load)

    async def ready(self) -> None:
        """Entry points loaded and the async sources heard: call before ``list``/``get``
        on the event loop (``run`` does it itself)."""
        if not self._entry_points_loaded:
            await asyncio.to_thread(self._ensure_entry_points)
        if self._sources:
            done = await asyncio.gather(*(load() for load in self._sources), return_exceptions=True)
            for outcome in done:
                if isinstance(outcome, Exception):  # a source's bug: its tools are missing
                    log.error("oui: a tool source failed", exc_info=outcome)

    def remove(self, name: str) -> None:
        """Forget a tool (an MCP server that went away)."""
        with self._lock:
            self._tools.pop(name, None)

    def available(self, user: UserInfo) -> list[Registered]:
        """The tools ``user`` may use, by name (blocking on first use: entry points load)."""
        self._ensure_entry_points()
        with self._lock:
            entries = sorted(self._tools.values(), key=lambda e: e.id)
        return [e for e in entries if can_use_tool(user, e.access_control)]

    def get(self, name: str, user: UserInfo) -> Registered:
        """The tool ``name`` if ``user`` may use it; ``NotFound`` otherwise (as if absent)."""
        self._ensure_entry_points()
        entry = self._tools.get(name)
        if entry is None or not can_use_tool(user, entry.access_control):
            raise NotFound(f"no tool named '{name}'")
        return entry

    def list(self, user: UserInfo) -> list[dict[str, Any]]:
        """``GET v1/tools/``: the tools ``user`` may use."""
        return [e.describe() for e in self.available(user)]

    # -- calls -------------------------------------------------------------------------
    async def run(
        self, name: str, arguments: str | dict[str, Any] | None, context: ToolContext
    ) -> ToolResult:
        """Run one call: the tool must be the caller's to use, the arguments (a JSON
        string, as models send them, or an object) must fit its schema, and the call
        must end within ``timeout``. Refusals and failures are ``ToolError``s (or
        ``NotFound``), whose message the loop hands to the model."""
        await self.ready()
        entry = self.get(name, context.user)
        args = validate_arguments(name, entry.tool.parameters, parse_arguments(name, arguments))
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(entry.tool.run(args, context), self.timeout)
        except asyncio.TimeoutError:
            raise ToolTimeout(f"{name}: no answer within {self.timeout:g} s") from None
        if not isinstance(result, ToolResult):
            raise ToolError(f"{name}: the tool answered {type(result).__name__}, not a ToolResult")
        log.debug("oui: tool %s ran in %.3f s", name, time.monotonic() - started)
        return result

    # -- entry points ------------------------------------------------------------------
    def _ensure_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        with self._lock:
            if self._entry_points_loaded:
                return
            self._entry_points_loaded = True
        for ep in self._load_entry_points():
            for tool in _tools_of(ep):
                try:
                    self.add(tool, "entrypoint")
                except ValueError as exc:
                    log.warning("oui: tool from entry point %s skipped: %s", _ep_name(ep), exc)


def _admin_rule(name: str, rule: Any) -> dict[str, Any] | None:
    """An admin's ``access_control`` for a tool; one that is not valid closes the tool to
    all but admins (``{}``), with an error in the log."""
    try:
        return validate_access_control(rule)
    except InvalidInput as exc:
        log.error("oui: tool_access_control[%r] is not valid (%s): admins only", name, exc.message)
        return {}


def _installed_entry_points() -> Iterable[Any]:
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


def _ep_name(ep: Any) -> str:
    return f"{getattr(ep, 'name', '?')} = {getattr(ep, 'value', '?')}"


def _tools_of(ep: Any) -> list[Any]:
    """The tools an entry point stands for (logged and none when loading it fails)."""
    try:
        obj = ep.load()
        if inspect.isclass(obj) or (callable(obj) and not hasattr(obj, "run")):
            obj = obj()
    except Exception:
        log.exception("oui: tool entry point %s failed to load", _ep_name(ep))
        return []
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return [obj]
