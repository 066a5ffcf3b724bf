"""The kernel side of oui-jupyter: a client for scripts, magics and widgets for notebooks.

``from oui_jupyter.notebook import OuiClient`` (or ``AsyncOuiClient``, ``ChatWidget``,
``SearchWidget``). Names are loaded on first use so ``%load_ext oui_jupyter`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "OuiClient": "oui_jupyter.notebook.client",
    "AsyncOuiClient": "oui_jupyter.notebook.client",
    "OuiError": "oui_jupyter.notebook.client",
    "Hit": "oui_jupyter.notebook.client",
    "ServerInfo": "oui_jupyter.notebook.discovery",
    "find_server": "oui_jupyter.notebook.discovery",
    "ChatWidget": "oui_jupyter.notebook.widgets",
    "SearchWidget": "oui_jupyter.notebook.widgets",
}

__all__ = [
    "AsyncOuiClient",
    "ChatWidget",
    "Hit",
    "OuiClient",
    "OuiError",
    "SearchWidget",
    "ServerInfo",
    "find_server",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'oui_jupyter.notebook' has no attribute {name!r}")
