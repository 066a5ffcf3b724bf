"""Bodies of the core routes: version, config, users."""

from __future__ import annotations

from typing import Any

import msgspec


class VersionResponse(msgspec.Struct):
    version: str


class ConfigResponse(msgspec.Struct):
    name: str
    version: str
    default_models: str | None
    features: dict[str, bool]
    retrieval: dict[str, Any]
    ui: dict[str, Any]


class UserResponse(msgspec.Struct):
    id: str
    name: str
    display_name: str
    role: str
    groups: list[str]
    created_at: int
    last_active_at: int


class ErrorResponse(msgspec.Struct):
    message: str
    reason: str | None = None
