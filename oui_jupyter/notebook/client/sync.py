"""The blocking client: the table of operations run over ``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from oui_jupyter.notebook.client.errors import raise_for
from oui_jupyter.notebook.client.plan import Done, Plan, Sleep, Step, Stream, T, advance
from oui_jupyter.notebook.client.transport import ClientBase
from oui_jupyter.notebook.client.turns import SyncTurn

if TYPE_CHECKING:
    import httpx  # noqa: F401 (named in the base class's type argument)


class OuiClient(ClientBase["httpx.Client"]):
    """Blocking client (magics, widgets, scripts)."""

    _asynchronous = False

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> OuiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._reaching():
            response = self.http.request(method, self._url(path), **kwargs)
        return self._answer(response)

    def download(self, path: str) -> bytes:
        """The bytes of ``oui/api/<path>`` (a file's content)."""
        with self._reaching():
            response = self.http.get(self._url(path))
        raise_for(response, self.server)
        return response.content

    def _run(self, plan: Plan[T]) -> T:
        step = advance(plan)
        while not isinstance(step, Done):
            step = advance(plan, self._do(step))
        return step.value

    def _do(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            return time.sleep(step.seconds)
        if step.raw:
            return self.download(step.path)
        return self.request(step.method, step.path, **step.options())

    def _open(self, stream: Stream) -> SyncTurn:
        with self._reaching():
            response = self.http.send(self._stream_request(self.http, stream), stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            raise_for(response, self.server)

        def lines() -> Iterator[str]:
            with self._reaching():
                yield from response.iter_lines()

        return SyncTurn(lines(), response.close)
