"""Imports every ORM module so ``metadata`` knows all tables (for Alembic and tests)."""

from __future__ import annotations

import importlib

from oui_jupyter.store.orm import Base

ORM_MODULES = (
    "oui_jupyter.store.orm",
    "oui_jupyter.store.orm_models",
    "oui_jupyter.store.orm_knowledge",
)

for _name in ORM_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a module still being written by a teammate
        if exc.name != _name:
            raise

metadata = Base.metadata
