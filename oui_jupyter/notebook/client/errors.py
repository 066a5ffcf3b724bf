"""The client's errors, and how an HTTP answer or a failed connection becomes one.

Every failure is an :class:`OuiError` whose message is one readable line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oui_jupyter.notebook.discovery import ServerInfo

if TYPE_CHECKING:
    import httpx


class OuiError(Exception):
    """A failure explained in one line (shown as is in a notebook cell)."""


class ServerUnreachable(OuiError):
    pass


class AuthError(OuiError):
    pass


class NotFound(OuiError):
    pass


class ApiError(OuiError):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail") or body.get("reason")
        if message:
            return str(message)
    return response.reason_phrase or f"HTTP {response.status_code}"


def raise_for(response: httpx.Response, server: ServerInfo) -> None:
    code = response.status_code
    if code < 300:
        return
    path = response.request.url.path
    if code < 400:
        raise ApiError(
            f"oui: {path} redirected to {response.headers.get('location', '?')}: "
            "is the oui-jupyter server extension enabled on that server?",
            code,
        )
    message = _error_message(response)
    if code in (401, 403):
        raise AuthError(
            f"oui: the server at {server.url} refused this kernel ({code}: {message}); "
            "set OUI_TOKEN to a valid Jupyter token"
        )
    is_json = "json" in response.headers.get("content-type", "")
    if code == 404 and not is_json:
        raise NotFound(
            f"oui: {path} does not exist on {server.url}: is the oui-jupyter server extension enabled?"
        )
    if code == 404:
        raise NotFound(f"oui: {message}")
    raise ApiError(f"oui: {message} ({code})", code)


def json_body(response: httpx.Response, server: ServerInfo) -> Any:
    """The JSON of a successful answer; a clear error for anything else (a login page...)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            f"oui: {server.url} answered {response.request.url.path} with "
            f"{response.headers.get('content-type', 'no content type')}, not JSON: "
            "is the oui-jupyter server extension enabled there?",
            response.status_code,
        ) from None


def unreachable(server: ServerInfo, error: Exception) -> ServerUnreachable:
    return ServerUnreachable(
        f"oui: cannot reach the Jupyter server at {server.url} ({type(error).__name__}); "
        "is it running? Otherwise set OUI_SERVER_URL and OUI_TOKEN"
    )
