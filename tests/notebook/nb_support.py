"""Helpers for the notebook tests (imported by the test modules; no conftest here, so the
module names stay unique next to tests/conftest.py)."""

from __future__ import annotations


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cells(
    cells: list[str],
    env: dict[str, str],
    cwd: str,
    timeout: int = 120,
    interrupt_on_timeout: bool = False,
) -> list[dict]:
    """Execute code cells in a fresh kernel with ``env``; the executed cells (errors kept)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    kernel_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OUI_", "JUPYTERHUB_", "JPY_"))
    }
    kernel_env.update(env)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=interrupt_on_timeout,
        resources={"metadata": {"path": cwd}},
    )
    client.execute(env=kernel_env)
    return [dict(cell) for cell in nb.cells]


def text_of(cell: dict, name: str | None = None, *, tracebacks: bool = True) -> str:
    """All the text a cell showed: streams (``name`` = stdout/stderr only), Markdown, plain,
    and error tracebacks (unless ``tracebacks`` is false)."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            if name in (None, output["name"]):
                parts.append(output["text"])
        elif name is None and "data" in output:
            data = output["data"]
            parts.append(
                data.get("text/markdown") or data.get("text/html") or data.get("text/plain", "")
            )
        elif name is None and tracebacks and output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]))
    return "".join(parts)


def errors_of(cell: dict) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
