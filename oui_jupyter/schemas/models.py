"""Bodies of the model routes: the model list, custom models, connection settings."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


class ModelEntry(msgspec.Struct):
    id: str
    name: str
    object: str
    owned_by: str
    connection: str | None
    available: bool


class ModelListResponse(msgspec.Struct):
    data: list[dict[str, Any]]
    pending: list[str] = []  # connections that have not answered yet (``connection`` ids)


# A custom model's id (``services.models.MODEL_ID``) and name (not blank).
ModelId = Annotated[str, msgspec.Meta(pattern=r"^[^\s/]{1,255}$")]
ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"\S")]


class ModelIdQuery(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class ModelListQuery(msgspec.Struct):
    refresh: bool = False  # fetch every connection's list again now
    wait: bool = False  # wait for every connection (up to models_fetch_timeout), not the budget


class CustomModelForm(msgspec.Struct):
    """Open WebUI's ModelForm: ``params.system`` is the system prompt; other params are sampling
    parameters (temperature, max_tokens...); ``meta`` holds description, knowledge, tags."""

    id: ModelId
    name: ModelName
    base_model_id: str | None = None
    params: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    access_control: dict[str, Any] | None = None
    is_active: bool = True


class CustomModelResponse(msgspec.Struct):
    id: str
    user_id: str
    base_model_id: str | None
    name: str
    params: dict[str, Any]
    meta: dict[str, Any]
    access_control: dict[str, Any] | None
    is_active: bool
    created_at: int
    updated_at: int


class OpenAIConfig(msgspec.Struct):
    """Open WebUI's connection settings; keys are redacted on read, and a redacted key sent
    back keeps the stored one."""

    ENABLE_OPENAI_API: bool = True
    OPENAI_API_BASE_URLS: list[str] = []
    OPENAI_API_KEYS: list[str] = []
    OPENAI_API_CONFIGS: dict[str, dict[str, Any]] = {}
