"""Find the Jupyter server that launched this kernel, with no configuration.

Order, first match wins:

1. ``OUI_SERVER_URL`` (+ ``OUI_TOKEN``): explicit, for scripts and unusual setups.
2. JupyterHub: ``JUPYTERHUB_API_TOKEN`` with ``JUPYTERHUB_SERVICE_URL`` (the single-user
   server's own URL, prefix included) or the matching running-server file plus
   ``JUPYTERHUB_SERVICE_PREFIX``.
3. The running-server files (``jpserver-<pid>.json`` in the Jupyter runtime dir, the same
   ones ``jupyter server list`` reads): the server whose pid is an ancestor of this process,
   else the one whose ``root_dir`` holds this process's working directory, else the only one.

The token is kept on the :class:`ServerInfo` object and sent as a header; it is never part
of its ``repr``, never printed, never written to the notebook.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

HOW_TO_CONFIGURE = (
    "set OUI_SERVER_URL (e.g. http://localhost:8888/) and OUI_TOKEN (the Jupyter token) "
    "in the kernel's environment"
)


class DiscoveryError(RuntimeError):
    """No server could be found; the message says what to set."""


@dataclass(frozen=True)
class ServerInfo:
    """Where the server is and how to authenticate. ``url`` ends with the base URL and '/'."""

    url: str
    token: str = field(default="", repr=False)
    source: str = ""
    root_dir: str = ""
    sock: str = ""

    @property
    def base_path(self) -> str:
        """The server's base URL path as the browser sees it (``/`` or ``/user/<name>/``)."""
        path = urlsplit(self.url).path or "/"
        return path if path.endswith("/") else path + "/"

    def api_url(self, path: str) -> str:
        return self.url + "oui/api/" + path.lstrip("/")

    def lab_link(self, path: str) -> str:
        """A link that opens ``path`` (relative to the root) in JupyterLab."""
        return self.base_path + "lab/tree/" + quote(path.lstrip("/"))

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}


def _normalise_url(url: str) -> str:
    url = url.strip().replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    if not re.match(r"^https?://", url):
        raise DiscoveryError(f"OUI_SERVER_URL must start with http:// or https:// (got {url!r})")
    return url if url.endswith("/") else url + "/"


def runtime_dir() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    return jupyter_runtime_dir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def running_servers(directory: str | None = None) -> list[dict[str, Any]]:
    """The ``jpserver-*.json`` files of live servers (read only; nothing is deleted)."""
    directory = directory or runtime_dir()
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    servers = []
    for name in sorted(names):
        if not re.fullmatch(r"jpserver-.+\.json", name):
            continue
        try:
            info = json.loads(Path(directory, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and isinstance(info.get("pid"), int) and _pid_alive(info["pid"]):
            servers.append(info)
    return servers


def ancestor_pids(pid: int | None = None, limit: int = 16) -> list[int]:
    """This process's parent, grandparent... (Linux ``/proc``; else only the parent)."""
    pid = os.getpid() if pid is None else pid
    chain: list[int] = []
    current = pid
    for _ in range(limit):
        parent = _parent_of(current)
        if parent is None or parent <= 1 or parent in chain:
            break
        chain.append(parent)
        current = parent
    if not chain and pid == os.getpid():
        chain.append(os.getppid())
    return chain


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return os.getppid() if pid == os.getpid() else None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def _within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath(
            [os.path.realpath(path), os.path.realpath(root)]
        ) == os.path.realpath(root)
    except ValueError:
        return False


def pick_server(
    servers: Iterable[dict[str, Any]], ancestors: Iterable[int], cwd: str
) -> tuple[dict[str, Any], str] | None:
    """The server that launched us: by ancestor pid, else by root_dir holding cwd, else the only one."""
    servers = list(servers)
    ancestors = list(ancestors)
    for pid in ancestors:
        for info in servers:
            if info.get("pid") == pid:
                return info, "the server that started this kernel"
    holding = [s for s in servers if s.get("root_dir") and _within(cwd, s["root_dir"])]
    if holding:
        # the deepest root wins: the most specific server for this directory
        best = max(holding, key=lambda s: len(os.path.realpath(s["root_dir"])))
        return best, "the running server whose root holds this directory"
    if len(servers) == 1:
        return servers[0], "the only running server"
    return None


def _from_info(info: dict[str, Any], source: str, token: str | None = None) -> ServerInfo:
    url = info.get("url") or ""
    if not url:
        scheme = "https" if info.get("secure") else "http"
        host = info.get("hostname") or "localhost"
        url = f"{scheme}://{host}:{info.get('port')}{info.get('base_url') or '/'}"
    if info.get("sock"):
        url = "http://localhost" + (info.get("base_url") or "/")
    return ServerInfo(
        url=_normalise_url(url),
        token=info.get("token", "") if token is None else token,
        source=source,
        root_dir=str(info.get("root_dir") or ""),
        sock=str(info.get("sock") or ""),
    )


def find_server(env: dict[str, str] | None = None, runtime: str | None = None) -> ServerInfo:
    """The server to talk to; :class:`DiscoveryError` says what to set when there is none."""
    env = dict(os.environ) if env is None else env
    explicit = env.get("OUI_SERVER_URL", "").strip()
    if explicit:
        token = (
            env.get("OUI_TOKEN") or env.get("JUPYTER_TOKEN") or env.get("JUPYTERHUB_API_TOKEN", "")
        )
        return ServerInfo(url=_normalise_url(explicit), token=token, source="OUI_SERVER_URL")

    servers = running_servers(runtime)
    picked = pick_server(servers, ancestor_pids(), os.getcwd())

    hub_token = env.get("JUPYTERHUB_API_TOKEN", "")
    if hub_token:
        service_url = env.get("JUPYTERHUB_SERVICE_URL", "").strip()
        if service_url:
            return ServerInfo(url=_normalise_url(service_url), token=hub_token, source="JupyterHub")
        if picked is not None:
            info = dict(picked[0])
            prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
            if prefix:
                info["base_url"] = prefix
            return _from_info(info, "JupyterHub", token=hub_token)
        raise DiscoveryError(
            "oui: running under JupyterHub but JUPYTERHUB_SERVICE_URL is not set: "
            + HOW_TO_CONFIGURE
        )

    if picked is not None:
        return _from_info(*picked)
    if not servers:
        raise DiscoveryError(f"oui: no running Jupyter server found: {HOW_TO_CONFIGURE}")
    raise DiscoveryError(
        f"oui: {len(servers)} Jupyter servers are running and none started this kernel: "
        + HOW_TO_CONFIGURE
    )


def notebook_path(
    server: ServerInfo | None = None, env: dict[str, str] | None = None
) -> str | None:
    """The notebook this kernel belongs to, relative to the server root when possible."""
    env = dict(os.environ) if env is None else env
    path = env.get("JPY_SESSION_NAME", "").strip()
    if not path:
        return None
    if (
        os.path.isabs(path)
        and server is not None
        and server.root_dir
        and _within(path, server.root_dir)
    ):
        path = os.path.relpath(os.path.realpath(path), os.path.realpath(server.root_dir))
    return path.replace(os.sep, "/")
