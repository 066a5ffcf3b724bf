"""The ``oui`` server extension: configuration and the composition root.

Every setting is a traitlet (``c.OuiJupyter.<name>`` in ``jupyter_server_config.py``).
Nothing heavy happens while the server starts: services are built in a thread just after
start (``warm_up_delay``), or by the first request, whichever comes first.
"""
from __future__ import annotations

import asyncio
import getpass
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Float, Int, Set, Unicode, default

from oui_jupyter._version import __version__
from oui_jupyter.runtime import Runtime, Services


class OuiJupyter(ExtensionApp):
    name = "oui"
    description = "Open WebUI's backend as a Jupyter server extension"
    version = __version__
    load_other_extensions = True

    data_dir = Unicode(
        help="Where oui-jupyter keeps its database, uploads and indexes. "
        "Default: <jupyter data dir>/oui.",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(Path(jupyter_data_dir()) / "oui")

    database_url = Unicode(
        help="SQLAlchemy URL of the chat database, e.g. postgresql://user@host/db for a team. "
        "Default: $OUI_DATABASE_URL, else $DATABASE_URL (as in Open WebUI), else a SQLite "
        "file oui.db in data_dir.",
    ).tag(config=True)

    @default("database_url")
    def _default_database_url(self) -> str:
        url = os.environ.get("OUI_DATABASE_URL") or os.environ.get("DATABASE_URL")
        if url:
            return url
        return f"sqlite:///{Path(self.data_dir) / 'oui.db'}"

    admin_users = Set(
        Unicode(),
        help="Jupyter user names that are oui admins, besides the server's owner "
        "(and, under JupyterHub, the hub's admins). Env: $OUI_ADMIN_USERS (comma-separated).",
    ).tag(config=True)

    @default("admin_users")
    def _default_admin_users(self) -> set[str]:
        raw = os.environ.get("OUI_ADMIN_USERS", "")
        return {name.strip() for name in raw.split(",") if name.strip()}

    owner_name = Unicode(
        help="The user id under which a single-user server's requests are stored. Jupyter's "
        "built-in identity providers make a new anonymous name per token request, but on such "
        "a server every authenticated request is its owner. Default: $JUPYTERHUB_USER, else the "
        "operating system user.",
    ).tag(config=True)

    @default("owner_name")
    def _default_owner_name(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    max_body_size = Int(
        10 * 1024 * 1024,
        help="Largest JSON request body accepted, in bytes (larger ones get 413).",
    ).tag(config=True)

    warm_up_delay = Float(
        1.0,
        help="Seconds after server start before the database is opened and migrated in the "
        "background (a request that comes sooner triggers it at once).",
    ).tag(config=True)

    def initialize_settings(self) -> None:
        from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider

        self.runtime = Runtime(self.build_services)
        provider = type(self.serverapp.identity_provider)
        single_user = provider in (IdentityProvider, PasswordIdentityProvider)
        self.settings.update(
            oui_runtime=self.runtime,
            oui_max_body_size=self.max_body_size,
            # With Jupyter's own providers every authenticated request is the owner's.
            oui_owner=self.owner_name if single_user else None,
        )

    def initialize_handlers(self) -> None:
        from oui_jupyter.handlers.routes import ROUTES

        prefix = url_path_join("/", "oui", "api")
        self.handlers.extend((url_path_join(prefix, path), handler) for path, handler in ROUTES)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.warm_up_delay, self.runtime.warm_up)

    async def stop_extension(self) -> None:  # type: ignore[override]
        self.runtime.close()

    def build_services(self) -> Services:
        """Open the database, migrate it, and wire stores into services (runs in a thread)."""
        from oui_jupyter.services.app_config import AppConfigService
        from oui_jupyter.services.chats import ChatService
        from oui_jupyter.services.users import UserService
        from oui_jupyter.store import migrate
        from oui_jupyter.store.chats import ChatStore
        from oui_jupyter.store.db import Database
        from oui_jupyter.store.users import ConfigStore, UserStore

        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        db = Database(self.database_url)
        migrate.upgrade(db.engine)
        services = Services(
            db=db,
            users=UserService(UserStore(db), set(self.admin_users), owner=self.owner_name),
            chats=ChatService(ChatStore(db)),
            config_store=ConfigStore(db),
            app_config=AppConfigService(version=__version__),
        )
        services.on_close(db.dispose)
        self.log.info("oui: services ready (%s database)", db.dialect)
        return services
