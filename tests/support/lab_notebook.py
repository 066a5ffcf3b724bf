"""Driving a notebook open in JupyterLab or Notebook 7 (``expose_app_in_browser``) from Playwright."""

from __future__ import annotations

from typing import Any

KERNEL_IDLE = (
    "window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status === 'idle'"
)


def wait_kernel_idle(page: Any, timeout: int = 90_000) -> None:
    """Until the current notebook's kernel is idle."""
    page.wait_for_function(KERNEL_IDLE, timeout=timeout)


def run_all_cells(page: Any) -> None:
    """Once the notebook's cells are shown and its kernel is idle, run every cell."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    wait_kernel_idle(page)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
