"""The model list, custom models (Open WebUI shapes) and the admin connection settings."""

from __future__ import annotations

from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import OpenAIKeyAuth, Operation, OuiHandler
from oui_jupyter.providers.connections import SETTINGS_FIELDS
from oui_jupyter.schemas.models import (
    CustomModelForm,
    CustomModelResponse,
    ModelIdQuery,
    ModelListQuery,
    ModelListResponse,
    OpenAIConfig,
)
from oui_jupyter.services import authz


class ModelsHandler(OpenAIKeyAuth, OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Every connection's models (unreachable ones marked available: false), the embedded "
            "local model, the custom models and, when admins turned it on and two models are "
            "available, the arena (`arena-model`), within models_list_budget: connections "
            "still answering are listed from their last known models (pending: true) and "
            "named in pending (?wait=true waits for them); a models:updated event follows "
            "when they have answered",
            query=ModelListQuery,
            response=ModelListResponse,
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ModelListQuery)
        listing = await self.models.model_list(
            self.user, refresh=query.refresh, complete=query.wait
        )
        evaluations = self.services.evaluations
        arena = await self.off_loop(evaluations.arena_enabled)
        listing["data"] = evaluations.with_arena(listing["data"], arena)
        self.write_json(listing)


class CustomModelsHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Custom models you can see", response=list[CustomModelResponse])
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.models.custom_models(self.user)))


class CreateCustomModelHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Create a custom model (409: the id is taken)",
            body=CustomModelForm,
            response=CustomModelResponse,
            statuses=(409,),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.parse_body(CustomModelForm)
        self.write_json(await self.models.create_custom(self.user, self.parse_json()))


class CustomModelHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("One custom model", query=ModelIdQuery, response=CustomModelResponse)
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ModelIdQuery)
        self.write_json(await self.off_loop(lambda: self.models.custom_model(self.user, query.id)))


class UpdateCustomModelHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Update a custom model",
            query=ModelIdQuery,
            body=CustomModelForm,
            response=CustomModelResponse,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        query = self.parse_query(ModelIdQuery)
        self.parse_body(CustomModelForm)
        form: dict[str, Any] = {k: v for k, v in self.parse_json().items() if k != "id"}
        self.write_json(
            await self.off_loop(lambda: self.models.update_custom(self.user, query.id, form))
        )


class ToggleCustomModelHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Turn a custom model on or off", query=ModelIdQuery, response=CustomModelResponse
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        query = self.parse_query(ModelIdQuery)
        self.write_json(await self.off_loop(lambda: self.models.toggle_custom(self.user, query.id)))


class DeleteCustomModelHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation("Delete a custom model", query=ModelIdQuery, response=bool)
    }

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        query = self.parse_query(ModelIdQuery)
        await self.off_loop(lambda: self.models.delete_custom(self.user, query.id))
        self.write_json(True)


class OpenAIConfigHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Connection settings, keys redacted (admins)", response=OpenAIConfig)
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.models.redacted_settings(self.user)))


class OpenAIConfigUpdateHandler(OuiHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            "Change the connection settings (admins): the fields named replace the stored ones "
            "(none named: 422); a redacted key keeps the stored key of its URL or its place, "
            "and one that matches neither is refused (422)",
            body=OpenAIConfig,
            response=OpenAIConfig,
            body_needs_one_of=SETTINGS_FIELDS,
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        authz.require_admin(self.user, "Only admins may change the connection settings")
        self.parse_body(OpenAIConfig)
        self.write_json(await self.models.update_settings(self.user, self.parse_json()))
