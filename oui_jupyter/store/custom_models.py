"""SQL for custom models (Open WebUI's "models" workspace): one row per model."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from oui_jupyter.errors import Conflict, NotFound
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import CustomModel

FIELDS = ("base_model_id", "name", "params", "meta", "access_control", "is_active")


class CustomModelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self) -> list[CustomModel]:
        with self.db.reader() as session:
            return list(session.scalars(select(CustomModel).order_by(CustomModel.created_at)))

    def get(self, model_id: str) -> CustomModel:
        with self.db.reader() as session:
            row = session.get(CustomModel, model_id)
        if row is None:
            raise NotFound(f"Model {model_id} not found")
        return row

    def create(self, model_id: str, user_id: str, **fields: Any) -> CustomModel:
        now = time.time()
        with self.db.session() as session:
            if session.get(CustomModel, model_id) is not None:
                raise Conflict(f"Model {model_id} already exists")
            row = CustomModel(
                id=model_id,
                user_id=user_id,
                created_at=now,
                updated_at=now,
                **{k: v for k, v in fields.items() if k in FIELDS},
            )
            session.add(row)
        return row

    def update(self, model_id: str, **fields: Any) -> CustomModel:
        with self.db.session() as session:
            row = session.get(CustomModel, model_id)
            if row is None:
                raise NotFound(f"Model {model_id} not found")
            for name, value in fields.items():
                if name in FIELDS:
                    setattr(row, name, value)
            row.updated_at = time.time()
        return row

    def delete(self, model_id: str) -> None:
        with self.db.session() as session:
            row = session.get(CustomModel, model_id)
            if row is None:
                raise NotFound(f"Model {model_id} not found")
            session.delete(row)
