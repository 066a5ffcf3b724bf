"""The running kernel of a notebook, through the server's session and kernel managers.

``Kernels.kernel_id`` finds the kernel of a notebook's session (by its path); ``evaluate``
asks it for one Python expression through ``user_expressions`` of a silent, history-less
execute request (nothing is published on IOPub, nothing lands in ``In``/``Out``/``_`` or
the execution count); ``execute`` runs a cell's code as a user's run would, collecting its
outputs. Every call has a time limit and opens its own client on the existing kernel
(never a new kernel).
"""

from __future__ import annotations

import ast
import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_core.utils import ensure_async

from .base import ToolError, ToolTimeout


@dataclass
class Execution:
    """What running one cell gave: nbformat outputs, the execution count, and how it ended
    (``ok``, ``error``, ``timeout``); ``cut``: outputs were dropped past the byte limit."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None
    status: str = "ok"
    cut: bool = False


class Kernels:
    def __init__(self, session_manager: Any, kernel_manager: Any) -> None:
        self.sessions = session_manager
        self.kernels = kernel_manager

    async def kernel_id(self, path: str) -> str:
        """The id of the running kernel of the notebook at ``path`` (relative to the root)."""
        sessions = await ensure_async(self.sessions.list_sessions())
        for session in sessions:
            kernel = session.get("kernel") or {}
            kid = kernel.get("id")
            if session.get("path") == path and kid and kid in self.kernels:
                return str(kid)
        raise ToolError(
            f"'{path}' has no running kernel; open it in JupyterLab and start its kernel first"
        )

    def _client(self, kernel_id: str) -> Any:
        import zmq.asyncio
        from jupyter_client.asynchronous import AsyncKernelClient

        manager = self.kernels.get_kernel(kernel_id)
        client = AsyncKernelClient(context=zmq.asyncio.Context.instance())
        client.load_connection_info(manager.get_connection_info())
        return client

    async def evaluate(self, kernel_id: str, expression: str, timeout: float) -> str:
        """The value of ``expression`` (which must give a ``str``) in the kernel's namespace."""
        client = self._client(kernel_id)
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            msg_id = client.execute(
                "",
                silent=True,
                store_history=False,
                user_expressions={"oui": expression},
                allow_stdin=False,
            )
            reply = await _reply(client, msg_id, time.monotonic() + timeout)
        finally:
            client.stop_channels()
        if reply is None:
            raise ToolTimeout(
                f"the kernel did not answer within {timeout:g} s (is a cell still running?); "
                "try again when it is idle"
            )
        content = reply["content"]
        value = (content.get("user_expressions") or {}).get("oui")
        if content.get("status") != "ok" or not isinstance(value, dict):
            raise ToolError(f"the kernel refused the request: {content.get('evalue', 'error')}")
        if value.get("status") != "ok":
            raise ToolError(
                "the kernel could not answer (does it run IPython?): "
                f"{value.get('ename', 'error')}: {value.get('evalue', '')}"
            )
        text = (value.get("data") or {}).get("text/plain", "")
        try:
            result = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ToolError("the kernel's answer could not be read") from None
        if not isinstance(result, str):
            raise ToolError("the kernel's answer could not be read")
        return result

    async def execute(
        self, kernel_id: str, code: str, timeout: float, max_output_bytes: int
    ) -> Execution:
        """Run ``code`` as a cell (in history, with an execution count); past ``timeout``
        the kernel is interrupted. ``ToolError`` when the kernel is busy or gone."""
        client = self._client(kernel_id)
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        try:
            await _subscribed(client, time.monotonic() + min(timeout, 10.0))
            msg_id = client.execute(code, silent=False, store_history=True, allow_stdin=False)
            try:
                return await self._collect(client, kernel_id, msg_id, timeout, max_output_bytes)
            except asyncio.CancelledError:  # the tool's own time limit: stop the cell
                await ensure_async(self.kernels.interrupt_kernel(kernel_id))
                raise
        finally:
            client.stop_channels()

    async def _collect(
        self, client: Any, kernel_id: str, msg_id: str, timeout: float, max_bytes: int
    ) -> Execution:
        run = Execution()
        deadline = time.monotonic() + timeout
        size = 0
        clear_pending = False
        idle = False
        while not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                await ensure_async(self.kernels.interrupt_kernel(kernel_id))
                run.status = "timeout"
                run.outputs.append(
                    {
                        "output_type": "error",
                        "ename": "Timeout",
                        "evalue": f"stopped after {timeout:g} s (the kernel was interrupted)",
                        "traceback": [],
                    }
                )
                await _reply(client, msg_id, time.monotonic() + 5.0)
                return run
            try:
                msg = await client.get_iopub_msg(timeout=min(left, 1.0))
            except Exception:  # queue.Empty: nothing yet
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            content = msg["content"]
            if kind == "status":
                idle = content.get("execution_state") == "idle"
                continue
            if kind == "execute_input":
                run.execution_count = content.get("execution_count")
                continue
            if kind == "clear_output":
                if content.get("wait"):
                    clear_pending = True
                else:
                    run.outputs.clear()
                continue
            if kind not in ("stream", "display_data", "execute_result", "error"):
                continue
            if clear_pending:
                run.outputs.clear()
                clear_pending = False
            if kind == "error":
                run.status = "error"
            output = _output(kind, content)
            weight = len(json.dumps(output))
            if size + weight > max_bytes:
                run.cut = True
                continue
            size += weight
            _append(run.outputs, output)
        reply = await _reply(client, msg_id, time.monotonic() + 5.0)
        if reply is not None:
            count = reply["content"].get("execution_count")
            run.execution_count = count if isinstance(count, int) else run.execution_count
            if reply["content"].get("status") == "error":
                run.status = "error"
        if run.cut:
            note = f"[outputs cut at {max_bytes} bytes]\n"
            run.outputs.append({"output_type": "stream", "name": "stderr", "text": note})
        return run


def _output(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    from nbformat.v4 import output_from_msg

    out: dict[str, Any] = output_from_msg({"header": {"msg_type": kind}, "content": content})
    return out


def _append(outputs: list[dict[str, Any]], output: dict[str, Any]) -> None:
    """Consecutive text of the same stream joins into one output, as JupyterLab keeps it."""
    last = outputs[-1] if outputs else None
    if (
        last is not None
        and output["output_type"] == "stream"
        and last["output_type"] == "stream"
        and last.get("name") == output.get("name")
    ):
        last["text"] = last["text"] + output["text"]
        return
    outputs.append(output)


async def _reply(client: Any, msg_id: str, deadline: float) -> dict[str, Any] | None:
    """The shell reply to ``msg_id``, or ``None`` past ``deadline``."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            msg: dict[str, Any] = await client.get_shell_msg(timeout=left)
        except Exception:  # queue.Empty
            return None
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg


async def _subscribed(client: Any, deadline: float) -> None:
    """Wait until IOPub hears this client (a new subscriber misses what comes before):
    ``kernel_info`` until its ``status`` arrives. A kernel busy with a running cell does not
    answer: ``ToolError``."""
    while time.monotonic() < deadline:
        msg_id = client.kernel_info()
        until = min(deadline, time.monotonic() + 1.0)
        while time.monotonic() < until:
            try:
                msg = await client.get_iopub_msg(timeout=max(until - time.monotonic(), 0.01))
            except Exception:
                break
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                await _reply(client, msg_id, time.monotonic() + 1.0)
                return
    raise ToolError("the kernel is busy (a cell is running); try again when it is idle")
