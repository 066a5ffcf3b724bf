"""Fixtures' parts for the team client tests: a stand-in team service (a real ``jupyter
server`` running oui, under ``/services/oui/``, with the test identity provider standing in
for the hub: ``alice-token`` is alice) and a client server process."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import support.oui_process as oui_process
from support.oui_process import OuiProcess

REPO = Path(__file__).resolve().parents[2]
SERVICE_PREFIX = "/services/oui"
TEAM_TOKEN = "alice-token"  # alice's server's hub token, as the stand-in service knows it


class TeamServiceProcess(OuiProcess):
    """The stand-in service; ``start`` again after ``stop`` comes back on the same port."""

    def __init__(self, root: Path, database_url: str, upstream: str) -> None:
        super().__init__(
            root,
            database_url,
            upstream,
            f"--ServerApp.base_url={SERVICE_PREFIX}/",
            "--ServerApp.identity_provider_class=support.identity.MultiUserIdentityProvider",
        )
        (root / "jupyter_server_config.py").write_text(
            "c.ServerApp.jpserver_extensions = "
            "{'fake_team_embeddings': True, 'oui_jupyter': True}\n"
        )
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "team")]
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SERVICE_PREFIX}"

    @property
    def team_url(self) -> str:
        return self.url + "/"

    def start(self, timeout: float = 120.0) -> TeamServiceProcess:
        fixed = self.port or oui_process.free_port()
        original = oui_process.free_port
        oui_process.free_port = lambda: fixed
        try:
            super().start(timeout)
        finally:
            oui_process.free_port = original
        return self

    def as_alice(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A request straight to the service as alice (what her server's token is)."""
        import json
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {TEAM_TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


class ClientProcess(OuiProcess):
    """alice's server in team client mode, as a process of its own (for what it loads)."""

    def __init__(self, root: Path, service: TeamServiceProcess, *extra: str) -> None:
        super().__init__(
            root,
            f"sqlite:///{root / 'unused.db'}",
            "http://127.0.0.1:9/v1",
            "--OuiJupyter.team_mode=client",
            f"--OuiJupyter.team_url={service.team_url}",
            "--OuiJupyter.index_workspace=True",
            "--OuiJupyter.index_start_delay=0",
            *extra,
        )
        self.args.remove("--OuiJupyter.index_workspace=False")
        self.env["JUPYTERHUB_API_TOKEN"] = TEAM_TOKEN
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests")])


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; the timeout is a safety net, not a measurement."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(interval)
