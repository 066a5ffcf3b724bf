"""Waiting in tests for what the server does in the background: one poller for the whole suite."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    until: Callable[[T], object] = bool,
    timeout: float = 20.0,
    interval: float = 0.05,
) -> T:
    """Call ``check`` (sync or async) until ``until(value)`` holds; return that value.

    The timeout is a safety net for a test that would otherwise hang; on it, the test fails
    with the last value seen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value
        assert loop.time() < deadline, (
            f"condition not met within {timeout} s; last value: {value!r}"
        )
        await asyncio.sleep(interval)


async def wait_indexed(api: Any, files: int = 1, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the workspace index is idle with at least ``files`` files, all indexed.

    ``api`` is the ``api`` fixture; returns the last ``v1/retrieval/status`` answer.
    """

    async def status() -> dict[str, Any]:
        answer: dict[str, Any] = (await api("GET", "v1/retrieval/status")).json()
        return answer

    return await eventually(
        status,
        until=lambda st: (
            st["files_total"] >= files
            and st["files"] == st["files_total"]
            and st["state"] == "idle"
        ),
        timeout=timeout,
        interval=0.1,
    )
