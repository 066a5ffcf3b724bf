"""The routes a team client server answers itself: the workspace index's status and
search, and the turns whose workspace context it adds before forwarding them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import OuiError
from oui_jupyter.handlers.base import Operation, status_for
from oui_jupyter.schemas.retrieval import QueryCollectionForm, QueryDocForm, RetrievalStatus
from oui_jupyter.team.client.forward import ClientHandler
from oui_jupyter.team.client.tool_channel import ChannelServer, local_tool_specs, local_user
from oui_jupyter.team.client.upstream import unreachable_body
from oui_jupyter.team.client.workspace import (
    WORKSPACE,
    asks_workspace,
    split_turn,
    turn_query,
    workspace_sources,
)

if TYPE_CHECKING:  # the index (DuckDB, numpy) is built after start
    from oui_jupyter.services.retrieval.service import RetrievalService

_encode = msgspec.json.Encoder().encode
NO_INDEX = "The workspace index is off on this server (OuiJupyter.index_workspace)"


class LocalHandler(ClientHandler):
    async def local_retrieval(self) -> RetrievalService | None:
        retrieval = await self.client.ready()
        self.client.activate()
        return retrieval

    def parse_local(self, schema: type[Any]) -> Any:
        body = self.request.body or b"{}"
        limit = self.client.max_body_size
        if len(body) > limit:
            self.write_error_json(
                413, f"Request body is {len(body)} bytes; the limit is {limit}", "too_large"
            )
            return None
        try:
            return msgspec.json.decode(body, type=schema)
        except msgspec.ValidationError as exc:
            self.write_error_json(422, f"Invalid request body: {exc}", "invalid")
        except msgspec.DecodeError as exc:
            self.write_error_json(400, f"Malformed JSON body: {exc}", "malformed")
        return None


class WorkspaceStatusHandler(LocalHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Workspace index of this server", response=RetrievalStatus)
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        retrieval = await self.local_retrieval()
        if retrieval is None:
            self.write_error_json(503, NO_INDEX, "no_index")
            return
        self.write_json(retrieval.status())


class WorkspaceQueryHandler(LocalHandler):
    """``query/collection`` naming ``workspace`` (or nothing: the workspace) and ``query/doc``
    on ``workspace`` are answered here; names of team collections only go to the service; a
    mix is searched in both places and merged by score (the service down: 503)."""

    single = False

    @web.authenticated
    @authorized
    async def post(self) -> None:
        raw = self.request.body or b"{}"
        try:
            peek = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            peek = None
        names = _names(peek, self.single)
        team_only = names is not None and bool(names) and WORKSPACE not in names
        if names is None or team_only:
            await self.forward()  # team collections (or a bad body: the service says so)
            return
        form = self.parse_local(QueryDocForm if self.single else QueryCollectionForm)
        if form is None:
            return
        retrieval = await self.local_retrieval()
        if retrieval is None:
            self.write_error_json(503, NO_INDEX, "no_index")
            return
        f = form.filter
        mode = form.mode or (None if form.hybrid is None else "hybrid" if form.hybrid else "vector")
        try:
            result = await asyncio.to_thread(
                retrieval.query,
                [WORKSPACE],
                form.query,
                form.k,
                filters=None if f is None else {"path": f.path, "file_type": f.file_type},
                mode=mode,
            )
        except OuiError as error:  # a bad mode, an empty query...
            self.write_error_json(status_for(error), error.message, error.reason or "")
            return
        others = [name for name in names if name != WORKSPACE]
        if others:
            remote = await self.team_part({**peek, "collection_names": others})
            if remote is None:
                return
            result = merge_results(result, remote, form.k or self.client.rag_top_k)
        self.write_json(result)

    async def team_part(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The service's answer for the team collections of a mixed query (None: an error
        was answered)."""
        import httpx

        upstream = self.client.upstream
        try:
            response = await upstream.send(
                "POST", self.api_path(), "", _encode(body), upstream.headers(self.request.headers)
            )
            data = await response.aread()
            await response.aclose()
        except httpx.TransportError:
            self.write_json(unreachable_body(), 503)
            return None
        if response.status_code != 200:
            self.set_status(response.status_code)
            self.set_header("Content-Type", "application/json")
            self.finish(data)
            return None
        answer: dict[str, Any] = msgspec.json.decode(data)
        return answer


class WorkspaceQueryDocHandler(WorkspaceQueryHandler):
    single = True


def merge_results(a: dict[str, Any], b: dict[str, Any], k: int) -> dict[str, Any]:
    """Two ``query/collection`` answers as one: the ``k`` best hits of both by score."""
    hits = [
        hit
        for answer in (a, b)
        for hit in zip(
            answer["documents"][0], answer["metadatas"][0], answer["distances"][0], strict=True
        )
    ]
    hits.sort(key=lambda hit: -hit[2])
    best = hits[:k]
    return {
        "documents": [[h[0] for h in best]],
        "metadatas": [[h[1] for h in best]],
        "distances": [[h[2] for h in best]],
        "retrievers": sorted({*a.get("retrievers", []), *b.get("retrievers", [])}),
    }


def _names(body: Any, single: bool) -> list[str] | None:
    if not isinstance(body, dict):
        return None
    if single:
        name = body.get("collection_name")
        return [name] if isinstance(name, str) else None
    names = body.get("collection_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names


class ClientToolsHandler(LocalHandler):
    """``v1/tools/``: this server's tools (``runs: "client"``: on your files, here) and the
    service's (``runs: "service"``); a name in both is this server's."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        import httpx

        await self.local_retrieval()
        registry = await self.client.local_tools()
        user = local_user(self.current_user)
        local = [] if registry is None else await asyncio.to_thread(registry.list, user)
        upstream = self.client.upstream
        try:
            response = await upstream.send(
                "GET", self.api_path(), self.request.query, None, upstream.headers({})
            )
            data = await response.aread()
            await response.aclose()
        except httpx.TransportError:
            self.write_json(unreachable_body(), 503)
            return
        if response.status_code != 200:
            self.set_status(response.status_code)
            self.set_header("Content-Type", "application/json")
            self.finish(data)
            return
        names = {entry["name"] for entry in local}
        remote = [e for e in msgspec.json.decode(data) if e.get("name") not in names]
        self.write_json(
            sorted(
                [{**e, "runs": "client"} for e in local]
                + [{**e, "runs": "service"} for e in remote],
                key=lambda e: str(e.get("name")),
            )
        )


#: the markers of a turn this server adds to before forwarding it
TURN_MARKERS = (b'"files"', b'"workspace"', b'"tool_ids"')


class WorkspaceTurnHandler(LocalHandler):
    """``chat/completions``, ``v1/chat/completions`` and ``v1/chats/{id}/message``: the
    workspace part of the turn is searched here and sent along as ``workspace_context``;
    the tools of ``tool_ids`` that are this server's run here (``tool_channel.py``)."""

    @web.authenticated
    @authorized
    async def post(self, chat_id: str | None = None) -> None:
        raw = self.request.body or b""
        if len(raw) > self.client.max_body_size or not any(m in raw for m in TURN_MARKERS):
            await self.forward()  # nothing of the workspace's (or too large: 413 there)
            return
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            await self.forward()  # the service answers the malformed body
            return
        if not isinstance(body, dict):
            await self.forward()
            return
        items, whole, rest = split_turn(body)
        if rest is not body:
            await self.add_workspace_context(body, rest, items, whole, chat_id)
        server = await self.channel_for(rest)
        if server is None:
            await (self.forward() if rest is body else self.forward(_encode(rest)))
            return
        rest = {**rest, "client_tools": server.specs, "tool_channel": server.channel}
        self.on_upstream_status = server.answered
        server.start(self.client.channel_tasks)
        try:
            await self.forward(_encode(rest))
        finally:
            if rest.get("session_id") is None:  # the turn ended with its answer
                server.stop()

    async def channel_for(self, body: dict[str, Any]) -> ChannelServer | None:
        """The channel that serves this turn's tools that run here (None: there are none)."""
        if not body.get("tool_ids"):
            return None
        await self.local_retrieval()
        registry = await self.client.local_tools()
        if registry is None:
            return None
        user = local_user(self.current_user)
        specs = local_tool_specs(registry, user, body.get("tool_ids"))
        if not specs:
            return None
        notebook = body.get("notebook_path")
        server = ChannelServer(
            self.client.upstream,
            registry,
            user,
            root_dir=str(self.settings.get("server_root_dir") or "."),
            notebook_path=notebook if isinstance(notebook, str) else None,
            names={spec["name"] for spec in specs},
        )
        server.specs = specs
        return server

    async def add_workspace_context(
        self,
        body: dict[str, Any],
        rest: dict[str, Any],
        items: list[dict[str, Any]],
        whole: bool,
        chat_id: str | None,
    ) -> None:
        retrieval = await self.local_retrieval()
        query = turn_query(body, message_route=chat_id is not None)
        sources: list[dict[str, Any]] = []
        if retrieval is not None and query.strip():
            client = self.client
            sources = await asyncio.to_thread(
                workspace_sources,
                retrieval,
                query,
                items,
                whole,
                k=client.rag_top_k,
                budget_chars=client.rag_budget_chars,
                relevant_only=asks_workspace(body),
            )
        if sources:
            rest["workspace_context"] = {"sources": sources}
