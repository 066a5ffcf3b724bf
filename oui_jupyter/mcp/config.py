"""The admin's MCP servers (``OuiJupyter.mcp_servers``), checked.

Each entry is ``name -> {"url": ..., "headers": {...}}`` (Streamable HTTP) or
``name -> {"command": [...], "env": {...}, "cwd": ...}`` (stdio: a local command the server
starts). Optional in both: ``requires_approval`` (default true: a tool of another server may
do anything), ``access_control`` (who may use the server's tools, as ``tool_access_control``)
and ``timeout`` (seconds per call). Servers come from the configuration only, never from the
database: a stdio entry runs a command.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from oui_jupyter.tools.base import NAME_PATTERN

log = logging.getLogger(__name__)

#: a server's name: it becomes part of its tools' names
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: what a tool of server S named T is called here: ``mcp__S__T`` (as Claude Code names them)
PREFIX = "mcp__"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
_KEYS = {
    "url",
    "headers",
    "command",
    "env",
    "cwd",
    "requires_approval",
    "access_control",
    "timeout",
}


@dataclass(frozen=True)
class ServerConfig:
    name: str
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    requires_approval: bool = True
    access_control: dict[str, Any] | None = None
    timeout: float | None = None

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    def describe(self) -> str:
        """For logs: never the headers nor the environment (they hold secrets)."""
        return self.url or " ".join(self.command[:1])


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{what} must be an object of strings")
    return dict(value)


def parse_server(name: Any, raw: Any) -> ServerConfig:
    """One entry of ``mcp_servers``; ``ValueError`` saying what is wrong."""
    if not isinstance(name, str) or not SERVER_NAME.match(name):
        raise ValueError(f"server name {name!r} is not 1-32 letters, digits, '_' or '-'")
    if not isinstance(raw, dict):
        raise ValueError(f"{name}: must be an object with 'url' or 'command'")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"{name}: unknown keys {unknown}")
    url, command = raw.get("url"), raw.get("command")
    if (url is None) == (command is None):
        raise ValueError(f"{name}: give exactly one of 'url' and 'command'")
    if url is not None and not (isinstance(url, str) and re.match(r"^https?://", url)):
        raise ValueError(f"{name}: 'url' must be an http(s) URL")
    if isinstance(command, str):
        command = [command]
    if command is not None and not (
        isinstance(command, list) and command and all(isinstance(c, str) and c for c in command)
    ):
        raise ValueError(f"{name}: 'command' must be a non-empty list of strings")
    approval = raw.get("requires_approval", True)
    if not isinstance(approval, bool):
        raise ValueError(f"{name}: 'requires_approval' must be true or false")
    timeout = raw.get("timeout")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"{name}: 'timeout' must be a positive number of seconds")
    cwd = raw.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise ValueError(f"{name}: 'cwd' must be a path")
    access = raw.get("access_control")
    if access is not None and not isinstance(access, dict):
        raise ValueError(f"{name}: 'access_control' must be an object")
    return ServerConfig(
        name=name,
        url=url,
        headers=_strings(raw.get("headers"), f"{name}: 'headers'"),
        command=tuple(command or ()),
        env=_strings(raw.get("env"), f"{name}: 'env'"),
        cwd=cwd,
        requires_approval=approval,
        access_control=access,
        timeout=float(timeout) if timeout is not None else None,
    )


def parse_servers(raw: dict[str, Any]) -> list[ServerConfig]:
    """The valid entries of ``mcp_servers``; a bad one is logged and left out."""
    servers = []
    for name, entry in raw.items():
        try:
            servers.append(parse_server(name, entry))
        except ValueError as exc:
            log.error("oui: MCP server %r left out: %s", name, exc)
    return servers


def tool_name(server: str, tool: str) -> str:
    """The registry's name of ``tool`` of ``server``: ``mcp__server__tool``, characters
    OpenAI refuses replaced by ``_``; a name past 64 characters is cut and ends with a hash
    of the whole, so that two long names stay apart."""
    name = f"{PREFIX}{server}__{_NOT_NAME.sub('_', tool)}"
    if len(name) > 64 or not tool:
        digest = hashlib.sha1(f"{server}\0{tool}".encode()).hexdigest()[:8]
        name = f"{name[:55]}_{digest}"
    assert NAME_PATTERN.match(name), name
    return name
