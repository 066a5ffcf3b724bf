"""The features and defaults the UI reads from ``oui/api/config`` (never secrets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oui_jupyter.schemas.core import ConfigResponse
from oui_jupyter.services.users import UserInfo


class AppConfigService:
    def __init__(self, version: str, default_model: str | None = None) -> None:
        self.version = version
        self.default_model = default_model
        self.features: dict[str, bool] = {}
        self.retrieval: dict[str, Any] = {}
        self.ui: dict[str, Any] = {}
        # Other services add what they know, late, without this module knowing them.
        self.contributors: list[Callable[[ConfigResponse, UserInfo], None]] = []

    def ui_config(self, user: UserInfo) -> ConfigResponse:
        config = ConfigResponse(
            name="oui-jupyter",
            version=self.version,
            default_models=self.default_model,
            features={"admin": user.is_admin, **self.features},
            retrieval=dict(self.retrieval),
            ui=dict(self.ui),
        )
        for contribute in self.contributors:
            contribute(config, user)
        return config
