"""The team service as this server reaches it: one keep-alive HTTP client, the URL of a
route there, the headers a forwarded request carries, and the "not reachable" answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # httpx is imported on first use, not at extension load
    import httpx
    from tornado.httputil import HTTPHeaders

#: What the user's server says when the team service cannot be reached.
UNREACHABLE = (
    "The oui team service is not reachable (it may be restarting); chats, models and "
    "completions are unavailable for now; your workspace search still works"
)

#: Request headers a forwarded request keeps (never cookies, XSRF tokens or the caller's
#: credentials: the server's own hub token stands for the user).
REQUEST_HEADERS = ("content-type", "accept", "prefer", "if-none-match", "last-event-id")

#: Response headers passed back to the caller (the rest are hop-by-hop or the service's own).
RESPONSE_HEADERS = (
    "content-type",
    "cache-control",
    "etag",
    "content-disposition",
    "x-accel-buffering",
    "retry-after",
    "location",
)


@dataclass(frozen=True)
class TeamSettings:
    team_url: str  # ends in "/" (the service's base URL; its API is under oui/api/)
    token: str  # $JUPYTERHUB_API_TOKEN: this server's hub token
    connect_timeout: float = 10.0
    read_timeout: float = 120.0  # upstream silence before a streaming answer fails

    def api_url(self, path: str, query: str = "") -> str:
        url = f"{self.team_url}oui/api/{path.lstrip('/')}"
        return f"{url}?{query}" if query else url

    def events_url(self) -> str:
        parts = urlsplit(self.api_url("events"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, *parts[1:]))

    @property
    def authorization(self) -> str:
        return f"token {self.token}"


def normalise_team_url(url: str) -> str:
    return url if not url or url.endswith("/") else url + "/"


class TeamUpstream:
    """One ``httpx.AsyncClient`` for the server's life: its connections to the service are
    kept alive and reused, so a forwarded request pays no TCP connect."""

    def __init__(self, settings: TeamSettings) -> None:
        self.settings = settings
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            s = self.settings
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                follow_redirects=False,
                trust_env=False,  # the service is on the hub's network: no proxy settings
            )
        return self._http

    def headers(self, incoming: HTTPHeaders | dict[str, str]) -> dict[str, str]:
        out = {name: incoming[name] for name in REQUEST_HEADERS if name in incoming}
        out["Authorization"] = self.settings.authorization
        out["Accept-Encoding"] = "identity"  # bytes pass through as they come
        return out

    async def send(
        self, method: str, path: str, query: str, body: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        """The service's response, its body still to read (``aiter_raw``); raises
        ``httpx.TransportError`` when the service cannot be reached."""
        http = self.http
        request = http.build_request(
            method, self.settings.api_url(path, query), content=body or None, headers=headers
        )
        return await http.send(request, stream=True)

    def close(self) -> None:
        http, self._http = self._http, None
        if http is None:
            return
        try:
            asyncio.get_running_loop().create_task(http.aclose())
        except RuntimeError:  # no loop any more: the process is ending
            pass


def unreachable_body(detail: str = UNREACHABLE) -> dict[str, Any]:
    return {"detail": detail, "message": detail, "reason": "team_service_unreachable"}
