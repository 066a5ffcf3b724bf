"""``python -m oui_jupyter.team``: the oui team service, as a JupyterHub managed service.

Read from the environment the hub gives it:

- ``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX`` (base URL),
  ``JUPYTERHUB_API_URL`` / ``JUPYTERHUB_API_TOKEN`` (to ask the hub who calls);
- ``OUI_TEAM_DATABASE_URL`` (required): the team database;
- ``OUI_TEAM_DATA_DIR``: uploads and indexes (default ``./oui-team-data``);
- ``OPENAI_API_BASE_URLS`` / ``OPENAI_API_KEYS``, ``OUI_HUB_ADMINS``: read by the extension.

Why a jupyter_server process and not a Tornado app of its own: the same handlers, services and
settings as a user's server, with only the identity provider (the hub) and the authorizer (oui
routes only) swapped. Extra command-line arguments (``--OuiJupyter.*``...) pass through and win.
Settings go in as configuration, never on the command line, so the database address is not in
``/proc/<pid>/cmdline`` (readable by every local user).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.serverapp import ServerApp
from traitlets.config import Config

MISSING_DATABASE = (
    "oui team service: OUI_TEAM_DATABASE_URL is not set. The service needs the team database, "
    "e.g. OUI_TEAM_DATABASE_URL=postgresql://oui:secret@db-host:5432/oui_team (set it in the "
    "service's environment in jupyterhub_config.py)."
)


class TeamServiceApp(ServerApp):
    """A ServerApp that loads the oui extension only, whatever else is installed."""

    forced_config = Config()

    def find_server_extensions(self) -> None:
        """No extension found in the Jupyter config paths: JupyterLab and others stay off."""

    def load_config_file(self, *args: Any, **kwargs: Any) -> None:
        super().load_config_file(*args, **kwargs)
        self.update_config(self.forced_config)  # then the command line, which wins


def service_config(env: os._Environ[str] | dict[str, str]) -> Config:
    """The service's settings from its environment (raises ``SystemExit(2)`` without a
    database)."""
    database_url = env.get("OUI_TEAM_DATABASE_URL", "").strip()
    if not database_url:
        print(MISSING_DATABASE, file=sys.stderr)
        raise SystemExit(2)
    url = urlsplit(env.get("JUPYTERHUB_SERVICE_URL") or "http://127.0.0.1:8090")
    data_dir = Path(env.get("OUI_TEAM_DATA_DIR") or Path.cwd() / "oui-team-data").resolve()
    root_dir = data_dir / "empty-root"
    root_dir.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.ServerApp.jpserver_extensions = {"oui_jupyter": True}
    config.ServerApp.ip = url.hostname or "127.0.0.1"
    config.ServerApp.port = url.port or 8090
    config.ServerApp.port_retries = 0
    config.ServerApp.base_url = env.get("JUPYTERHUB_SERVICE_PREFIX") or "/services/oui/"
    config.ServerApp.root_dir = str(root_dir)
    config.ServerApp.open_browser = False
    config.ServerApp.terminals_enabled = False
    # No login cookies here (every request carries a hub token): a secret of this process's.
    config.ServerApp.cookie_secret = os.urandom(32)
    config.ServerApp.allow_root = hasattr(os, "geteuid") and os.geteuid() == 0
    # The hub's proxy (or a Kubernetes Service) forwards with the public Host: identity is
    # the hub's token, not the address.
    config.ServerApp.allow_remote_access = True
    config.ServerApp.trust_xheaders = True
    config.ServerApp.identity_provider_class = "oui_jupyter.team.auth.HubServiceIdentityProvider"
    config.ServerApp.authorizer_class = "oui_jupyter.team.auth.ServiceAuthorizer"
    config.OuiJupyter.team_mode = "service"
    config.OuiJupyter.database_url = database_url
    config.OuiJupyter.data_dir = str(data_dir)
    config.OuiJupyter.index_workspace = False
    return config


def main(argv: list[str] | None = None) -> int:
    try:
        config = service_config(os.environ)
    except SystemExit as exc:
        return int(exc.code or 0)
    TeamServiceApp.forced_config = config
    app = TeamServiceApp.instance(config=config)
    app.initialize(argv=sys.argv[1:] if argv is None else argv, find_extensions=False)
    app.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
