"""What both clients share around their HTTP library: finding the server, the connection's
settings, and turning its answers and failures into results or :class:`OuiError`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from oui_jupyter.notebook.client.endpoints import OuiApi
from oui_jupyter.notebook.client.errors import OuiError, json_body, raise_for, unreachable
from oui_jupyter.notebook.client.plan import Stream
from oui_jupyter.notebook.discovery import DiscoveryError, ServerInfo, find_server

if TYPE_CHECKING:
    import httpx

H = TypeVar("H")  # the HTTP client: httpx.Client or httpx.AsyncClient


def _timeout(read: float | None) -> Any:
    import httpx

    return httpx.Timeout(connect=5.0, read=read, write=30.0, pool=10.0)


class ClientBase(OuiApi, Generic[H]):
    """A client of one server over the HTTP client ``H``, made on first use; subclasses bring
    the transport (``_run`` and ``_open``)."""

    _asynchronous: bool  # which httpx client, and whether the operations are coroutines

    def __init__(self, server: ServerInfo | None = None, *, timeout: float = 120.0) -> None:
        if server is None:
            try:
                server = find_server()
            except DiscoveryError as error:
                raise OuiError(str(error)) from None
        self.server = server
        self.timeout = timeout
        self._http: H | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.server.url!r})"

    @property
    def http(self) -> H:
        if self._http is None:
            self._http = self._connect()
        return self._http

    def _connect(self) -> H:
        """The HTTP client: the token, the timeouts, the server's Unix socket if it has one."""
        import httpx

        options: dict[str, Any] = {
            "headers": self.server.auth_headers(),
            "timeout": _timeout(self.timeout),
        }
        if self.server.sock:
            kind = httpx.AsyncHTTPTransport if self._asynchronous else httpx.HTTPTransport
            options["transport"] = kind(uds=self.server.sock)
        client = httpx.AsyncClient if self._asynchronous else httpx.Client
        return cast(H, client(**options))

    def _url(self, path: str) -> str:
        return self.server.api_url(path)

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """A failed connection becomes :class:`ServerUnreachable`."""
        import httpx

        try:
            yield
        except httpx.TransportError as error:
            raise unreachable(self.server, error) from None

    def _answer(self, response: httpx.Response) -> Any:
        """The JSON of a successful answer; the error of any other."""
        raise_for(response, self.server)
        return json_body(response, self.server)

    def _stream_request(self, http: httpx.Client | httpx.AsyncClient, stream: Stream) -> Any:
        """The request of a streamed turn (it may take as long as the model needs)."""
        return http.build_request(
            "POST", self._url(stream.path), json=stream.body, timeout=_timeout(None)
        )
