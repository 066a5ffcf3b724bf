"""oui-jupyter: Open WebUI's backend as a Jupyter server extension.

Importing this package is cheap: the server extension and the kernel-side client are
loaded only when asked for.
"""

from __future__ import annotations

from typing import Any

from oui_jupyter._version import __version__

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "oui-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from oui_jupyter.app import OuiJupyter

    return [{"module": "oui_jupyter", "app": OuiJupyter}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext oui_jupyter``: the ``%%chat`` and ``%oui`` magics."""
    from oui_jupyter.notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from oui_jupyter.notebook.magics import unload_ipython_extension as unload

    unload(ipython)
