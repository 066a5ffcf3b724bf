"""A real JupyterHub with the oui team service, for the team tests (issue #16).

``Hub(root, database_url=..., upstream=...)`` writes a ``jupyterhub_config.py`` that loads the
example (``examples/jupyterhub/jupyterhub_config.py``) and appends the test overrides (free
ports, the tmp dir, an admin service token ``t`` for the REST API), then runs ``jupyterhub``
with ``configurable-http-proxy`` from ``.venv/chp``. Users: alice and bob (plain), carol (hub
admin, through ``OUI_HUB_ADMINS`` as the example reads it) and dave (an oui admin only: in the
service's ``OUI_HUB_ADMINS``, not a hub admin).

The service runs under ``tests/support/service_supervisor.py`` (a test override of its
command, with the example's command after it): the hub sees one process that never exits, and
``stop_service()`` / ``start_service()`` stop and start the real ``python -m oui_jupyter.team``
within it, so a test can take the service down for as long as it likes.

Every request goes through the hub's proxy: ``hub.request("alice", "/user/alice/oui/api/...")``
or the shorthands ``hub.user_api("alice", "v1/users/user")`` (her own server) and
``hub.service_api("alice", "v1/users/user")`` (the service), with a token the hub issued to
alice. On failure, ``hub.logs()`` has the hub's output (user servers write there too) and the
service's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.oui_process import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "examples" / "jupyterhub" / "jupyterhub_config.py"
VENV_BIN = Path(sys.executable).parent
JUPYTERHUB = VENV_BIN / "jupyterhub"
CHP_CANDIDATES = (
    REPO / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy",
    VENV_BIN.parent / "chp" / "node_modules" / ".bin" / "configurable-http-proxy",
)
SUPERVISOR = Path(__file__).with_name("service_supervisor.py")

ADMIN_TOKEN = "oui-test-admin-service-token-0123456789"
SERVICE = "oui"
PLAIN_USERS = ("alice", "bob")
HUB_ADMIN = "carol"
OUI_ONLY_ADMIN = "dave"
USERS = (*PLAIN_USERS, HUB_ADMIN, OUI_ONLY_ADMIN)
TEAM_KEY = "sk-team-secret-key-4f1c9a"


def chp_path() -> Path:
    """``configurable-http-proxy`` as ``scripts/setup.sh`` installs it (npm, ``.venv/chp``)."""
    for candidate in CHP_CANDIDATES:
        if candidate.exists():
            return candidate
    raise RuntimeError(
        "configurable-http-proxy is not installed: run `bash scripts/setup.sh` "
        f"(looked at {', '.join(map(str, CHP_CANDIDATES))})"
    )


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Response:
    """One HTTP request; any status is an answer (no exception for 4xx/5xx)."""
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Response(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read(), dict(exc.headers))


def _wait(what: str, check: Any, timeout: float, logs: Any, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s (last: {last!r})\n{logs()}")


class Hub:
    """A JupyterHub on free ports under ``root``, with the oui team service.

    ``database_url``: the team database the service gets (``OUI_TEAM_DATABASE_URL``).
    ``upstream``: the team's connection (``OPENAI_API_BASE_URLS``; key ``TEAM_KEY``).
    ``service_args``: extra command-line flags of the service (``--OuiJupyter.*``);
    ``user_args``: of every user's server. ``config``: more lines appended to the config.
    """

    def __init__(
        self,
        root: Path,
        *,
        database_url: str,
        upstream: str,
        service_args: tuple[str, ...] = ("--OuiJupyter.local_model_enabled=False",),
        user_args: tuple[str, ...] = (
            "--OuiJupyter.local_model_enabled=False",
            "--OuiJupyter.index_workspace=False",
        ),
        config: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.database_url = database_url
        self.upstream = upstream
        self.service_args = tuple(service_args)
        self.user_args = tuple(user_args)
        self.extra_config = config
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.hub_port = free_port()
        self.proxy_api_port = free_port()
        self.service_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_url = f"http://127.0.0.1:{self.service_port}/services/{SERVICE}/"
        self.homes = root / "home"
        self.service_dir = root / "service"
        self.hub_log = root / "hub.log"
        self.service_log = root / "service.log"
        self.control = root / "service-control"
        self.proc: subprocess.Popen[bytes] | None = None
        self._tokens: dict[str, str] = {}

    # ----- lifecycle -----
    def write_config(self) -> Path:
        """The example, loaded as is, then the test overrides."""
        self.homes.mkdir(parents=True, exist_ok=True)
        self.service_dir.mkdir(parents=True, exist_ok=True)
        self.control.mkdir(parents=True, exist_ok=True)
        service_cmd = [
            sys.executable,
            str(SUPERVISOR),
            str(self.control),
            str(self.service_log),
            "--",
        ]
        overrides = f"""
# ----- test overrides (tests/support/hub.py) -----
load_subconfig({str(EXAMPLE_CONFIG)!r})
c.JupyterHub.db_url = {f"sqlite:///{self.root / 'jupyterhub.sqlite'}"!r}
c.JupyterHub.cookie_secret_file = {str(self.root / "cookie_secret")!r}
c.ConfigurableHTTPProxy.command = [{str(chp_path())!r}]
c.ConfigurableHTTPProxy.pid_file = {str(self.root / "proxy.pid")!r}
c.SimpleLocalProcessSpawner.home_dir_template = {str(self.homes / "{username}")!r}
c.Spawner.args = list(c.Spawner.args) + {list(self.user_args)!r}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.log_level = "INFO"
_oui = c.JupyterHub.services[0]
_oui["command"] = {service_cmd!r} + list(_oui["command"]) + {list(self.service_args)!r}
_oui["cwd"] = {str(self.service_dir)!r}
_oui["environment"]["OUI_HUB_ADMINS"] = ",".join(
    sorted(set(filter(None, _oui["environment"]["OUI_HUB_ADMINS"].split(","))) | {{"{OUI_ONLY_ADMIN}"}})
)
_oui["environment"]["OUI_TEAM_DATA_DIR"] = {str(self.service_dir / "data")!r}
c.JupyterHub.services.append({{"name": "t", "api_token": {ADMIN_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "admin", "services": ["t"]}})
{self.extra_config}
"""
        path = self.root / "jupyterhub_config.py"
        path.write_text(overrides)
        return path

    def environment(self) -> dict[str, str]:
        """The hub's environment: what the example reads, and nothing secret of the host's."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OUI_", "OPENAI_", "JUPYTERHUB_", "JUPYTER_", "DATABASE_URL"))
        }
        env.update(
            OUI_TEAM_DATABASE_URL=self.database_url,
            OPENAI_API_BASE_URLS=self.upstream,
            OPENAI_API_KEYS=TEAM_KEY,
            OUI_HUB_ADMINS=HUB_ADMIN,
            OUI_HUB_BIND_URL=self.url,
            OUI_HUB_PORT=str(self.hub_port),
            OUI_PROXY_API_PORT=str(self.proxy_api_port),
            OUI_SERVICE_PORT=str(self.service_port),
            HF_HUB_OFFLINE="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120) -> Hub:
        config = self.write_config()
        log = self.hub_log.open("ab")
        self.proc = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(config)],
            cwd=self.root,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait("the hub", self._hub_up, timeout, self.logs)
        self.wait_for_service(timeout)
        self.create_users(*PLAIN_USERS, OUI_ONLY_ADMIN)
        return self

    def _hub_up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}\n{self.logs()}")
        return self.api("GET", "/info").status == 200

    def close(self) -> None:
        """Stop the hub, every server it started and the service (its whole process group)."""
        if self.proc is None:
            return
        for user in list(self._tokens):
            try:
                self.stop_server(user, wait=False)
            except OSError:
                pass
        stop_process(self.proc, grace=20)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything the hub left behind
        except ProcessLookupError:
            pass
        for pid in self._processes_under(self.root):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def logs(self, tail: int = 20_000) -> str:
        """The end of the hub's log (user servers write there too) and the service's."""
        parts = []
        for name, path in (("hub", self.hub_log), ("service", self.service_log)):
            text = path.read_text(errors="replace") if path.exists() else "(none)"
            parts.append(f"----- {name} log ({path}) -----\n{text[-tail:]}")
        return "\n".join(parts)

    # ----- the REST API, as the admin service 't' -----
    def api(self, method: str, path: str, body: Any = None) -> Response:
        """``/hub/api<path>`` on the hub's own port, with the admin service token."""
        return http(
            method,
            f"http://127.0.0.1:{self.hub_port}/hub/api{path}",
            body,
            {"Authorization": f"token {ADMIN_TOKEN}"},
        )

    def _ok(self, response: Response, what: str) -> Response:
        if response.status >= 400:
            raise RuntimeError(f"{what}: {response.status} {response.text}\n{self.logs(4000)}")
        return response

    def create_users(self, *names: str) -> None:
        """Create the users that do not exist yet (carol comes from the config)."""
        existing = {u["name"] for u in self._ok(self.api("GET", "/users"), "list users").json()}
        missing = [name for name in names if name not in existing]
        if missing:
            self._ok(self.api("POST", "/users", {"usernames": missing}), "create users")

    def add_group(self, group: str, *users: str) -> None:
        """Create ``group`` if needed and add ``users`` to it."""
        if self.api("GET", f"/groups/{group}").status == 404:
            self._ok(self.api("POST", f"/groups/{group}", {}), f"create group {group}")
        if users:
            self._ok(
                self.api("POST", f"/groups/{group}/users", {"users": list(users)}),
                f"add {users} to {group}",
            )

    def user_model(self, user: str) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.api("GET", f"/users/{user}"), user).json()
        return result

    def token_for(self, user: str, scopes: list[str] | None = None) -> str:
        """A token the hub issues acting as ``user`` (all her permissions unless ``scopes``);
        without ``scopes``, one per user, reused."""
        if scopes is None and user in self._tokens:
            return self._tokens[user]
        body: dict[str, Any] = {"note": "oui tests", "expires_in": 3600}
        if scopes is not None:
            body["scopes"] = scopes
        token = str(
            self._ok(self.api("POST", f"/users/{user}/tokens", body), "token").json()["token"]
        )
        if scopes is None:
            self._tokens[user] = token
        return token

    def spawn(self, user: str, timeout: float = 180) -> dict[str, Any]:
        """Start ``user``'s server (if it is not running) and wait until it answers through
        the proxy; returns the hub's user model."""
        self.token_for(user)
        model = self.user_model(user)
        if not model.get("servers", {}).get("", {}).get("ready"):
            response = self.api("POST", f"/users/{user}/server")
            if response.status not in (201, 202, 400):  # 400: already pending/running
                self._ok(response, f"spawn {user}")

            def ready() -> dict[str, Any] | None:
                model = self.user_model(user)
                server = model.get("servers", {}).get("")
                if server is None and not model.get("pending"):
                    raise RuntimeError(f"{user}'s server failed to start\n{self.logs()}")
                return model if server and server.get("ready") else None

            model = _wait(f"{user}'s server", ready, timeout, self.logs, interval=0.5)
        _wait(
            f"{user}'s server through the proxy",
            lambda: self.request(user, f"/user/{user}/api/status").status == 200,
            timeout,
            self.logs,
        )
        return model

    def stop_server(self, user: str, wait: bool = True, timeout: float = 60) -> None:
        response = self.api("DELETE", f"/users/{user}/server")
        if response.status >= 400 and response.status != 400:
            self._ok(response, f"stop {user}")
        if wait:
            _wait(
                f"{user}'s server to stop",
                lambda: not self.user_model(user).get("servers"),
                timeout,
                self.logs,
            )

    def server_pid(self, user: str) -> int:
        """The process id of ``user``'s running server (its ``jupyterhub-singleuser``)."""
        home = str(self.homes / user)
        for pid in self._processes_under(self.root):
            env = _environ(pid)
            if env.get("JUPYTERHUB_USER") == user and _cwd(pid) == home:
                if "jupyterhub-singleuser" in " ".join(_cmdline(pid)):
                    return pid
        raise LookupError(f"no running server of {user}\n{self.logs(4000)}")

    # ----- requests through the proxy -----
    def request(
        self,
        user: str | None,
        path: str,
        method: str = "GET",
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Response:
        """``path`` (``/user/<u>/...`` or ``/services/oui/...``) through the proxy, with
        ``token`` or else a token the hub issued to ``user`` (``user=None``: no token)."""
        all_headers = dict(headers or {})
        if token is None and user is not None:
            token = self.token_for(user)
        if token is not None:
            all_headers["Authorization"] = f"token {token}"
        return http(method, f"{self.url}{path}", body, all_headers, timeout)

    def user_api(
        self, user: str, route: str, method: str = "GET", body: Any = None, **kw: Any
    ) -> Response:
        """``oui/api/<route>`` on ``user``'s own server, as ``user``."""
        return self.request(user, f"/user/{user}/oui/api/{route}", method, body, **kw)

    def service_api(
        self, user: str | None, route: str, method: str = "GET", body: Any = None, **kw: Any
    ) -> Response:
        """``oui/api/<route>`` on the team service (through the proxy), as ``user``."""
        return self.request(user, f"/services/{SERVICE}/oui/api/{route}", method, body, **kw)

    # ----- the service -----
    def service_up(self) -> bool:
        """Whether the service answers on its own port (any HTTP status)."""
        try:
            http("GET", f"{self.service_url}oui/api/version", timeout=5)
        except (OSError, urllib.error.URLError):
            return False
        return True

    def wait_for_service(self, timeout: float = 120) -> None:
        """Until the service answers on its port and through the proxy (its route is there)."""

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}\n{self.logs()}")
            if not self.service_up():
                return False
            # Without a token the service answers 403; the hub's own 404 page means the proxy
            # has no route to it yet.
            return self.service_api(None, "version").status in (401, 403)

        _wait("the oui service", up, timeout, self.logs)

    def service_pid(self) -> int:
        """The process id of the running ``python -m oui_jupyter.team``."""
        pid_file = self.control / "child.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text() or 0)
            if pid and Path(f"/proc/{pid}").exists():
                return pid
        raise LookupError(f"the oui service is not running\n{self.logs(4000)}")

    def service_environment(self) -> dict[str, str]:
        """The environment the hub gave the service (as its supervisor saw it)."""
        return dict(json.loads((self.control / "environment.json").read_text()))

    def stop_service(self, timeout: float = 60) -> None:
        """Stop the service (SIGTERM; the hub does not notice) until ``start_service``."""
        (self.control / "stop").touch()
        _wait("the service to stop", lambda: not self.service_up(), timeout, self.logs)

    def start_service(self, timeout: float = 120) -> None:
        (self.control / "stop").unlink(missing_ok=True)
        self.wait_for_service(timeout)

    def start_replica(self, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
        """One more service process on the same database and hub credentials (not behind the
        proxy): returns it and its base URL (``http://127.0.0.1:P/services/oui/``)."""
        port = port or free_port()
        env = self.service_environment()
        env["JUPYTERHUB_SERVICE_URL"] = f"http://127.0.0.1:{port}"
        log = (self.root / f"replica-{port}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "oui_jupyter.team", *self.service_args],
            cwd=self.service_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        url = f"http://127.0.0.1:{port}/services/{SERVICE}/"
        _wait(
            "the replica", lambda: http("GET", f"{url}oui/api/version").status > 0, 120, self.logs
        )
        return proc, url

    # ----- processes -----
    @staticmethod
    def _processes_under(root: Path) -> list[int]:
        """Processes whose working directory is under ``root`` (the hub, servers, kernels)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            cwd = _cwd(int(entry.name))
            if cwd and (cwd == str(root) or cwd.startswith(f"{root}/")):
                found.append(int(entry.name))
        return found

    def processes_of(self, user: str) -> list[int]:
        """Every process of ``user``'s: her server and what it started (kernels, terminals)."""
        server = self.server_pid(user)
        return [server, *_descendants(server)]


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_environ(pid: int) -> dict[str, str]:
    """``/proc/<pid>/environ`` as a dict (empty if the process is gone)."""
    return _environ(pid)


def process_cmdline(pid: int) -> list[str]:
    return _cmdline(pid)
