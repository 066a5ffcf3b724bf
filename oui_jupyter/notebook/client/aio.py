"""The asyncio client: the same table of operations, awaitable, over ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from oui_jupyter.notebook.client.errors import raise_for
from oui_jupyter.notebook.client.plan import Done, Plan, Sleep, Step, Stream, T, advance
from oui_jupyter.notebook.client.transport import ClientBase
from oui_jupyter.notebook.client.turns import AsyncTurn

if TYPE_CHECKING:
    import httpx  # noqa: F401 (named in the base class's type argument)


class AsyncOuiClient(ClientBase["httpx.AsyncClient"]):
    """The same API, awaitable (for asyncio code and the kernel's event loop)."""

    _asynchronous = True

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncOuiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._reaching():
            response = await self.http.request(method, self._url(path), **kwargs)
        return self._answer(response)

    async def download(self, path: str) -> bytes:
        """The bytes of ``oui/api/<path>`` (a file's content)."""
        with self._reaching():
            response = await self.http.get(self._url(path))
        raise_for(response, self.server)
        return response.content

    async def _run(self, plan: Plan[T]) -> T:
        step = advance(plan)
        while not isinstance(step, Done):
            step = advance(plan, await self._do(step))
        return step.value

    async def _do(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            return await asyncio.sleep(step.seconds)
        if step.raw:
            return await self.download(step.path)
        return await self.request(step.method, step.path, **step.options())

    async def _open(self, stream: Stream) -> AsyncTurn:
        with self._reaching():
            response = await self.http.send(self._stream_request(self.http, stream), stream=True)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise_for(response, self.server)

        async def lines() -> AsyncIterator[str]:
            with self._reaching():
                async for line in response.aiter_lines():
                    yield line

        return AsyncTurn(lines(), response.aclose)
