"""A complete team hub on one machine: JupyterHub, the oui team service, user servers.

    export OUI_TEAM_DATABASE_URL=postgresql://oui:secret@127.0.0.1:5432/oui_team
    export OPENAI_API_BASE_URLS=https://api.openai.com/v1 OPENAI_API_KEYS=sk-...
    jupyterhub -f examples/jupyterhub/jupyterhub_config.py

Read from the environment (of the hub):

- ``OUI_TEAM_DATABASE_URL`` (required): the team database (PostgreSQL). Only the oui service
  gets it.
- ``OPENAI_API_BASE_URLS`` / ``OPENAI_API_KEYS`` (';'-separated): the team's connections. Only
  the oui service gets them; user servers (and so their kernels) never see them.
- ``OUI_HUB_ADMINS`` (comma-separated): hub users who are oui admins (and hub admins).
- ``OUI_HUB_BIND_URL`` (http://127.0.0.1:8000), ``OUI_HUB_PORT`` (8081),
  ``OUI_PROXY_API_PORT`` (8001), ``OUI_SERVICE_PORT`` (8090): the ports, for tests and for
  machines where the defaults are taken.

Users log in with any password (``DummyAuthenticator``: for trying it out only) and their
servers run as the hub's own Unix user (``SimpleLocalProcessSpawner``, homes under /tmp).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (JupyterHub's config loader)

SERVICE = "oui"

database_url = os.environ.get("OUI_TEAM_DATABASE_URL", "")
if not database_url:
    sys.exit(
        "OUI_TEAM_DATABASE_URL is not set: the oui team service needs the team database, "
        "e.g. export OUI_TEAM_DATABASE_URL=postgresql://oui:secret@127.0.0.1:5432/oui_team"
    )

hub_admins = {n.strip() for n in os.environ.get("OUI_HUB_ADMINS", "").split(",") if n.strip()}
service_port = int(os.environ.get("OUI_SERVICE_PORT", "8090"))
service_url = f"http://127.0.0.1:{service_port}"

# ----- the hub -----
c.JupyterHub.bind_url = os.environ.get("OUI_HUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("OUI_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ.get('OUI_PROXY_API_PORT', '8001'))}"
)
# configurable-http-proxy from PATH (npm install -g configurable-http-proxy), else the copy
# scripts/setup.sh puts next to the virtual environment's packages (.venv/chp).
_chp = Path(sys.prefix) / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
if not shutil.which("configurable-http-proxy") and _chp.exists():
    c.ConfigurableHTTPProxy.command = [str(_chp)]
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = hub_admins

# ----- user servers: the extension in team-client mode, nothing secret -----
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
# The service's internal address (not through the proxy): all a user server is told.
c.Spawner.environment = {"OUI_TEAM_URL": f"{service_url}/services/{SERVICE}/"}
# $JUPYTERHUB_API_TOKEN of a user's server may call the oui service as its user (the user
# must hold the scope too: see the 'user' role below), besides the 'server' role's scopes.
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={SERVICE}",
]
# Tokens a browser gets from the user's server may call the service too.
c.Spawner.oauth_client_allowed_scopes = [f"access:services!service={SERVICE}"]

# ----- the oui team service: the only process with the database and the keys -----
service_env = {
    "OUI_TEAM_DATABASE_URL": database_url,
    "OUI_HUB_ADMINS": ",".join(sorted(hub_admins)),
}
for name in ("OPENAI_API_BASE_URLS", "OPENAI_API_KEYS", "OUI_TEAM_DATA_DIR", "HF_HUB_OFFLINE"):
    if os.environ.get(name):
        service_env[name] = os.environ[name]

c.JupyterHub.services = [
    {
        "name": SERVICE,
        "url": service_url,
        "command": [sys.executable, "-m", "oui_jupyter.team"],
        "environment": service_env,
        "display": True,
        "oauth_no_confirm": True,
    }
]

c.JupyterHub.load_roles = [
    # Every user may call the oui service (the default 'user' role is 'self' only).
    {
        "name": "user",
        "scopes": ["self", f"access:services!service={SERVICE}"],
    },
    # The service reads who is a hub admin and which groups a user is in.
    {
        "name": "oui-service",
        "scopes": ["read:users", "read:groups"],
        "services": [SERVICE],
    },
]
