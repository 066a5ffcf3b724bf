"""The kernel-side client: talk to the oui server over HTTP, sync (:class:`OuiClient`) or
async (:class:`AsyncOuiClient`). It is also the Python API for scripts::

    from oui_jupyter.notebook import OuiClient
    client = OuiClient()                      # finds the server that started this kernel
    chat = client.create_chat("analysis")
    for text in (turn := client.stream_message(chat["id"], "Hello")):
        print(text, end="")
    turn.message["sources"]

Every failure is an :class:`OuiError` whose message is one readable line.
``httpx`` is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from oui_jupyter.notebook.discovery import DiscoveryError, ServerInfo, find_server

if TYPE_CHECKING:
    import httpx

WORKSPACE = "workspace"


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


@dataclass
class Hit:
    """One search result."""

    path: str
    snippet: str
    link: str
    cell: int | None = None
    start_line: int | None = None
    end_line: int | None = None
    page: int | None = None
    distance: float | None = None

    @property
    def where(self) -> str:
        parts = []
        if self.cell is not None:
            parts.append(f"cell {self.cell}")
        if self.start_line is not None:
            end = self.end_line if self.end_line not in (None, self.start_line) else None
            parts.append(f"lines {self.start_line}-{end}" if end else f"line {self.start_line}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        return ", ".join(parts)


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def parse_hits(body: dict[str, Any], server: ServerInfo) -> list[Hit]:
    """``{documents: [[...]], metadatas: [[...]], distances: [[...]]}`` -> hits, best first."""

    def first(key: str) -> list[Any]:
        value = body.get(key) or [[]]
        return list(value[0] or []) if value and isinstance(value[0], list) else list(value)

    documents, metadatas, distances = first("documents"), first("metadatas"), first("distances")
    hits = []
    for index, text in enumerate(documents):
        meta = (
            metadatas[index]
            if index < len(metadatas) and isinstance(metadatas[index], dict)
            else {}
        )
        path = str(meta.get("source") or meta.get("name") or "")
        distance = distances[index] if index < len(distances) else None
        hits.append(
            Hit(
                path=path,
                snippet=str(text or ""),
                link=server.lab_link(path) if path else "",
                cell=_int(meta.get("cell")),
                start_line=_int(meta.get("start_line")),
                end_line=_int(meta.get("end_line")),
                page=_int(meta.get("page")),
                distance=float(distance) if isinstance(distance, (int, float)) else None,
            )
        )
    return hits


def normalise_sources(sources: Any, server: ServerInfo) -> list[Hit]:
    """Citations in either shape -> hits.

    Flat ``{source: path, cell, start_line, end_line, page, snippet}`` (the sidebar's) or Open
    WebUI's ``{source: {...}, document: [...], metadata: [{source, ...}]}``.
    """
    hits: list[Hit] = []
    seen: set[tuple[Any, ...]] = set()
    for item in sources or []:
        if not isinstance(item, dict):
            continue
        entries: list[tuple[dict[str, Any], str]] = []
        if isinstance(item.get("path"), str):  # ours: flat fields (and Open WebUI's beside them)
            entries.append((item, str(item.get("snippet") or "")))
        elif isinstance(item.get("metadata"), list):
            documents = item.get("document") or []
            for index, meta in enumerate(item["metadata"]):
                if isinstance(meta, dict):
                    text = documents[index] if index < len(documents) else ""
                    entries.append((meta, str(text)))
        else:
            entries.append((item, str(item.get("snippet") or item.get("document") or "")))
        for meta, text in entries:
            source = meta.get("path") or meta.get("source")
            if isinstance(source, dict):
                source = source.get("path") or source.get("name") or source.get("id")
            path = str(source or meta.get("name") or meta.get("file") or "")
            hit = Hit(
                path=path,
                snippet=text,
                link=server.lab_link(path) if path else "",
                cell=_int(meta.get("cell")),
                start_line=_int(meta.get("start_line")),
                end_line=_int(meta.get("end_line")),
                page=_int(meta.get("page")),
            )
            key = (hit.path, hit.cell, hit.start_line, hit.end_line, hit.page)
            if path and key not in seen:
                seen.add(key)
                hits.append(hit)
    return hits


class SSEParser:
    """Incremental ``text/event-stream`` parser: feed lines, get ``data`` payloads."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None


class Turn:
    """A streaming chat turn: iterate for text deltas; ``message`` is the final answer."""

    def __init__(self) -> None:
        self.content = ""
        self.message: dict[str, Any] | None = None
        self.error: str | None = None
        self.done = False

    def _event(self, data: str) -> str | None:
        """Apply one SSE payload; returns the text it adds (``None`` for none)."""
        if data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            event = json.loads(data)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        if event.get("error"):
            error = event["error"]
            if isinstance(error, dict):
                error = error.get("message") or error.get("content") or error.get("detail") or error
            self.error = str(error)
            return None
        final = event.get("message") if isinstance(event.get("message"), dict) else None
        if final is None and event.get("role") == "assistant" and "choices" not in event:
            final = event
        if final is not None:
            self.message = final
            text = str(final.get("content") or "")
            extra = text[len(self.content) :] if text.startswith(self.content) else ""
            self.content = text if text else self.content
            if final.get("done", True):
                self.done = True
            return extra or None
        text = ""
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            text += str(delta.get("content") or "")
        if not text and isinstance(event.get("data"), dict):  # socket-style frame
            frame = event["data"]
            if "content" in frame and isinstance(frame["content"], str):
                text = frame["content"][len(self.content) :]
            else:
                text = str(frame.get("delta") or "")
        if text:
            self.content += text
            return text
        return None

    def _finish(self) -> None:
        if self.error:
            raise ApiError(f"oui: the model failed: {self.error}")
        if self.message is None:
            self.message = {"role": "assistant", "content": self.content, "done": True}
        self.done = True


class SyncTurn(Turn):
    def __init__(self, lines: Iterator[str], close: Any) -> None:
        super().__init__()
        self._lines = lines
        self._close = close

    def __iter__(self) -> Iterator[str]:
        parser = SSEParser()
        try:
            for line in self._lines:
                data = parser.feed(line)
                if data is None:
                    continue
                text = self._event(data)
                if text:
                    yield text
                if self.done and self.message is not None:
                    break
            tail = parser.feed("")
            if tail is not None and (text := self._event(tail)):
                yield text
        finally:
            self._close()
        self._finish()

    def wait(self) -> dict[str, Any]:
        """Read the rest of the stream; the final message."""
        for _ in self:
            pass
        assert self.message is not None
        return self.message


class AsyncTurn(Turn):
    def __init__(self, lines: AsyncIterator[str], close: Any) -> None:
        super().__init__()
        self._lines = lines
        self._close = close

    async def __aiter__(self) -> AsyncIterator[str]:
        parser = SSEParser()
        try:
            async for line in self._lines:
                data = parser.feed(line)
                if data is None:
                    continue
                text = self._event(data)
                if text:
                    yield text
                if self.done and self.message is not None:
                    break
            tail = parser.feed("")
            if tail is not None and (text := self._event(tail)):
                yield text
        finally:
            await self._close()
        self._finish()

    async def wait(self) -> dict[str, Any]:
        async for _ in self:
            pass
        assert self.message is not None
        return self.message


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


def new_chat_body(title: str, model: str | None) -> dict[str, Any]:
    return {
        "chat": {
            "title": title,
            "models": [model] if model else [],
            "history": {"messages": {}, "currentId": None},
            "messages": [],
        }
    }


def message_body(
    content: str,
    model: str | None,
    parent_id: str | None,
    files: list[dict[str, Any]] | None,
    workspace: bool,
    stream: bool,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"content": content, "stream": stream}
    if params:
        body["params"] = params
    if model:
        body["model"] = model
    if parent_id:
        body["parent_id"] = parent_id
    if files:
        body["files"] = files
    if workspace:
        body["features"] = {"workspace": True}
    return body


# A notebook's chat is searched for page by page (60 chats a page): up to 6,000 chats.
FIND_CHAT_MAX_PAGES = 100


def exact_title(found: Any, title: str) -> dict[str, Any] | None:
    """The first chat of a search page titled exactly ``title``. The search also matches chats
    that merely mention it (in their title or messages), so the one wanted may be on a later
    page; stopping at the first page made a duplicate notebook chat."""
    return next((c for c in found or [] if isinstance(c, dict) and c.get("title") == title), None)


def knowledge_items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = body.get("items") or body.get("data") or []
    return [item for item in body or [] if isinstance(item, dict)]


def pick_knowledge(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for item in items:
        if item.get("name") == name or item.get("id") == name:
            return item
    for item in items:
        if str(item.get("name", "")).lower() == name.lower():
            return item
    names = ", ".join(sorted(str(i.get("name")) for i in items)) or "none"
    raise NotFound(f"oui: no knowledge collection named {name!r} (have: {names})")


def pick_model(models: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    for model in models:
        if model.get("id") == wanted:
            return model
    for model in models:
        if str(model.get("name", "")).lower() == wanted.lower():
            return model
    ids = ", ".join(str(m.get("id")) for m in models) or "none"
    raise NotFound(f"oui: unknown model {wanted!r} (available: {ids})")


def default_model(models: list[dict[str, Any]]) -> str | None:
    """The first available model, else the first listed one: ``available: false`` may only mean
    that its server was busy when the list was fetched, and the server's answer to the turn
    says clearly whether it is really down."""
    usable = [m for m in models if m.get("available", True) is not False] or models
    return str(usable[0]["id"]) if usable else None


def index_done(status: dict[str, Any]) -> bool:
    """The workspace index has scanned everything and embedded every chunk (or failed)."""
    if status.get("state") == "error":
        raise OuiError(f"oui: the workspace index failed: {status.get('error')}")
    return status.get("state") == "idle" and not status.get("pending")


def _timeout(read: float | None) -> Any:
    import httpx

    return httpx.Timeout(connect=5.0, read=read, write=30.0, pool=10.0)


def _transport(server: ServerInfo, sync: bool) -> Any:
    import httpx

    if not server.sock:
        return None
    return (
        httpx.HTTPTransport(uds=server.sock) if sync else httpx.AsyncHTTPTransport(uds=server.sock)
    )


class _Base:
    def __init__(self, server: ServerInfo | None = None, *, timeout: float = 120.0) -> None:
        if server is None:
            try:
                server = find_server()
            except DiscoveryError as error:
                raise OuiError(str(error)) from None
        self.server = server
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.server.url!r})"

    def _url(self, path: str) -> str:
        return self.server.api_url(path)


class OuiClient(_Base):
    """Blocking client (magics, widgets, scripts)."""

    def __init__(self, server: ServerInfo | None = None, *, timeout: float = 120.0) -> None:
        super().__init__(server, timeout=timeout)
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            import httpx

            kwargs: dict[str, Any] = {}
            transport = _transport(self.server, sync=True)
            if transport is not None:
                kwargs["transport"] = transport
            self._http = httpx.Client(
                headers=self.server.auth_headers(), timeout=_timeout(self.timeout), **kwargs
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> OuiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self.http.request(method, self._url(path), **kwargs)
        except httpx.TransportError as error:
            raise unreachable(self.server, error) from None
        raise_for(response, self.server)
        return json_body(response, self.server)

    # -- reads
    def version(self) -> str:
        return str(self.request("GET", "version").get("version", ""))

    def models(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "models").get("data", []))

    def model(self, wanted: str) -> dict[str, Any]:
        return pick_model(self.models(), wanted)

    def chats(self, page: int = 1) -> list[dict[str, Any]]:
        return list(self.request("GET", "v1/chats/", params={"page": page}))

    def get_chat(self, chat_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"v1/chats/{quote(chat_id, safe='')}"))

    def find_chat(self, title: str) -> dict[str, Any] | None:
        """The newest chat with exactly this title, or ``None`` (see ``exact_title``)."""
        for page in range(1, FIND_CHAT_MAX_PAGES + 1):
            found = self.request("GET", "v1/chats/search", params={"text": title, "page": page})
            match = exact_title(found, title)
            if match is not None or not found:
                return match
        return None

    def knowledge(self) -> list[dict[str, Any]]:
        return knowledge_items(self.request("GET", "v1/knowledge/"))

    def status(self) -> dict[str, Any]:
        return dict(self.request("GET", "v1/retrieval/status"))

    def wait_for_index(self, timeout: float = 300.0, poll: float = 0.5) -> dict[str, Any]:
        """Wait until the workspace index is idle with every chunk embedded; the last status."""
        import time

        deadline = time.monotonic() + timeout
        status = self.status()
        while not index_done(status):
            if time.monotonic() > deadline:
                raise OuiError(
                    f"oui: the workspace index is still busy after {timeout:.0f} s ({status.get('state')})"
                )
            time.sleep(poll)
            status = self.status()
        return status

    def search(self, query: str, k: int = 5, collection: str = WORKSPACE) -> list[Hit]:
        body = self.request(
            "POST",
            "v1/retrieval/query/collection",
            json={"collection_names": [collection], "query": query, "k": k},
        )
        return parse_hits(body or {}, self.server)

    # -- writes
    def create_chat(self, title: str, model: str | None = None) -> dict[str, Any]:
        return dict(self.request("POST", "v1/chats/new", json=new_chat_body(title, model)))

    def delete_chat(self, chat_id: str) -> None:
        self.request("DELETE", f"v1/chats/{quote(chat_id, safe='')}")

    def stop(self, chat_id: str) -> None:
        self.request("POST", f"tasks/chat/{quote(chat_id, safe='')}/stop")

    def send_message(
        self,
        chat_id: str,
        content: str,
        *,
        model: str | None = None,
        parent_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workspace: bool = False,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run one turn in a chat and wait for the assistant message."""
        body = message_body(
            content, model, parent_id, files, workspace, stream=False, params=params
        )
        return dict(self.request("POST", f"v1/chats/{quote(chat_id, safe='')}/message", json=body))

    def stream_message(
        self,
        chat_id: str,
        content: str,
        *,
        model: str | None = None,
        parent_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workspace: bool = False,
        params: dict[str, Any] | None = None,
    ) -> SyncTurn:
        """Start one turn; iterate the result for text, then read ``.message``."""
        body = message_body(content, model, parent_id, files, workspace, stream=True, params=params)
        return self._stream(f"v1/chats/{quote(chat_id, safe='')}/message", body)

    def stream_completion(
        self, messages: list[dict[str, Any]], model: str, **extra: Any
    ) -> SyncTurn:
        """``oui/api/chat/completions`` with ``stream: true`` (no chat is saved unless ``chat_id``)."""
        return self._stream(
            "chat/completions", {"model": model, "messages": messages, "stream": True, **extra}
        )

    def _stream(self, path: str, body: dict[str, Any]) -> SyncTurn:
        import httpx

        request = self.http.build_request(
            "POST", self._url(path), json=body, timeout=_timeout(None)
        )
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as error:
            raise unreachable(self.server, error) from None
        if response.status_code >= 400:
            response.read()
            response.close()
            raise_for(response, self.server)

        def lines() -> Iterator[str]:
            try:
                yield from response.iter_lines()
            except httpx.TransportError as error:
                raise unreachable(self.server, error) from None

        return SyncTurn(lines(), response.close)


class AsyncOuiClient(_Base):
    """The same API, awaitable (for asyncio code and the kernel's event loop)."""

    def __init__(self, server: ServerInfo | None = None, *, timeout: float = 120.0) -> None:
        super().__init__(server, timeout=timeout)
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            kwargs: dict[str, Any] = {}
            transport = _transport(self.server, sync=False)
            if transport is not None:
                kwargs["transport"] = transport
            self._http = httpx.AsyncClient(
                headers=self.server.auth_headers(), timeout=_timeout(self.timeout), **kwargs
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncOuiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = await self.http.request(method, self._url(path), **kwargs)
        except httpx.TransportError as error:
            raise unreachable(self.server, error) from None
        raise_for(response, self.server)
        return json_body(response, self.server)

    async def version(self) -> str:
        return str((await self.request("GET", "version")).get("version", ""))

    async def models(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", "models")).get("data", []))

    async def model(self, wanted: str) -> dict[str, Any]:
        return pick_model(await self.models(), wanted)

    async def chats(self, page: int = 1) -> list[dict[str, Any]]:
        return list(await self.request("GET", "v1/chats/", params={"page": page}))

    async def get_chat(self, chat_id: str) -> dict[str, Any]:
        return dict(await self.request("GET", f"v1/chats/{quote(chat_id, safe='')}"))

    async def find_chat(self, title: str) -> dict[str, Any] | None:
        for page in range(1, FIND_CHAT_MAX_PAGES + 1):
            found = await self.request(
                "GET", "v1/chats/search", params={"text": title, "page": page}
            )
            match = exact_title(found, title)
            if match is not None or not found:
                return match
        return None

    async def knowledge(self) -> list[dict[str, Any]]:
        return knowledge_items(await self.request("GET", "v1/knowledge/"))

    async def status(self) -> dict[str, Any]:
        return dict(await self.request("GET", "v1/retrieval/status"))

    async def wait_for_index(self, timeout: float = 300.0, poll: float = 0.5) -> dict[str, Any]:
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        status = await self.status()
        while not index_done(status):
            if time.monotonic() > deadline:
                raise OuiError(
                    f"oui: the workspace index is still busy after {timeout:.0f} s ({status.get('state')})"
                )
            await asyncio.sleep(poll)
            status = await self.status()
        return status

    async def search(self, query: str, k: int = 5, collection: str = WORKSPACE) -> list[Hit]:
        body = await self.request(
            "POST",
            "v1/retrieval/query/collection",
            json={"collection_names": [collection], "query": query, "k": k},
        )
        return parse_hits(body or {}, self.server)

    async def create_chat(self, title: str, model: str | None = None) -> dict[str, Any]:
        return dict(await self.request("POST", "v1/chats/new", json=new_chat_body(title, model)))

    async def delete_chat(self, chat_id: str) -> None:
        await self.request("DELETE", f"v1/chats/{quote(chat_id, safe='')}")

    async def stop(self, chat_id: str) -> None:
        await self.request("POST", f"tasks/chat/{quote(chat_id, safe='')}/stop")

    async def send_message(
        self,
        chat_id: str,
        content: str,
        *,
        model: str | None = None,
        parent_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workspace: bool = False,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = message_body(
            content, model, parent_id, files, workspace, stream=False, params=params
        )
        return dict(
            await self.request("POST", f"v1/chats/{quote(chat_id, safe='')}/message", json=body)
        )

    async def stream_message(
        self,
        chat_id: str,
        content: str,
        *,
        model: str | None = None,
        parent_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workspace: bool = False,
        params: dict[str, Any] | None = None,
    ) -> AsyncTurn:
        body = message_body(content, model, parent_id, files, workspace, stream=True, params=params)
        return await self._stream(f"v1/chats/{quote(chat_id, safe='')}/message", body)

    async def stream_completion(
        self, messages: list[dict[str, Any]], model: str, **extra: Any
    ) -> AsyncTurn:
        return await self._stream(
            "chat/completions", {"model": model, "messages": messages, "stream": True, **extra}
        )

    async def _stream(self, path: str, body: dict[str, Any]) -> AsyncTurn:
        import httpx

        request = self.http.build_request(
            "POST", self._url(path), json=body, timeout=_timeout(None)
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as error:
            raise unreachable(self.server, error) from None
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise_for(response, self.server)

        async def lines() -> AsyncIterator[str]:
            try:
                async for line in response.aiter_lines():
                    yield line
            except httpx.TransportError as error:
                raise unreachable(self.server, error) from None

        return AsyncTurn(lines(), response.aclose)
