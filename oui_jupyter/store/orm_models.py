"""Custom models (Open WebUI "models" workspace): base model + system prompt + params."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from oui_jupyter.store.orm import Base, JSONValue


class CustomModel(Base):
    __tablename__ = "model"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    base_model_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    params: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    meta: Mapped[JSONValue] = mapped_column(JSON, default=dict)
    access_control: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
