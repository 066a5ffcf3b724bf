"""Core routes: version, UI config, the current user, the OpenAPI document."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter._version import __version__
from oui_jupyter.errors import NotFound
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.core import ConfigResponse, UserResponse, VersionResponse


class VersionHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("The server's oui-jupyter version", response=VersionResponse)
    }
    activates = False  # a health check is not use

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(VersionResponse(version=__version__))


class ConfigHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Features and defaults the UI needs (no secrets)", response=ConfigResponse)
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(self.app_config.ui_config(self.user))


class CurrentUserHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("The current user, from Jupyter's identity", response=UserResponse)
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        row = await self.off_loop(lambda: self.users.store.get(self.user.id))
        self.write_json(
            UserResponse(
                id=self.user.id,
                name=self.user.name,
                display_name=self.user.display_name,
                role=self.user.role,
                groups=list(self.user.groups),
                created_at=int(row.created_at) if row else 0,
                last_active_at=int(row.last_active_at) if row else 0,
            )
        )


class OpenAPIHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("This OpenAPI 3 document", response=dict)
    }

    @web.authenticated
    @authorized
    def get(self) -> None:
        from oui_jupyter.handlers.openapi import openapi_document

        routes: list[tuple[str, type[OuiHandler]]] = self.settings["oui_routes"]
        self.write_json(openapi_document(routes, __version__))


class NotFoundHandler(OuiHandler):
    """Last in the route table: every other path under ``oui/api/`` (an unknown route, or an
    id outside ``[A-Za-z0-9_-]{1,64}``) answers a JSON 404, not Tornado's HTML page."""

    activates = False

    def _not_found(self, path: str = "") -> None:
        raise NotFound(
            f"No route oui/api/{path} (ids are 1 to 64 letters, digits, '_' or '-')",
            reason="no_route",
        )

    @web.authenticated
    def get(self, path: str = "") -> None:
        self._not_found(path)

    @web.authenticated
    def post(self, path: str = "") -> None:
        self._not_found(path)

    @web.authenticated
    def put(self, path: str = "") -> None:
        self._not_found(path)

    @web.authenticated
    def patch(self, path: str = "") -> None:
        self._not_found(path)

    @web.authenticated
    def delete(self, path: str = "") -> None:
        self._not_found(path)
