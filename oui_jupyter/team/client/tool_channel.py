"""A turn's workspace tools, run on the user's own server while the team service runs the turn.

A forwarded turn whose ``tool_ids`` name tools of this server's registry (the workspace
tools: files, notebooks, SQL, workspace search, and later the kernel's) goes to the service
with ``client_tools`` (their specs) and ``tool_channel`` (a random id, one per turn). While
the turn runs, ``ChannelServer`` serves the channel: it long-polls the service's
``v1/tools/channel/{id}/requests``, runs each call here with ``ToolRegistry.run`` as the
server's user (``root_dir`` this server's, ``notebook_path`` the turn's), and posts each
result to ``v1/tools/channel/{id}/results``. It stops when the service says the turn is
over, when the turn's request fails, or after ``LIFETIME`` seconds. The service's side is
``oui_jupyter/tools/channel.py``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any

import msgspec

from oui_jupyter.errors import OuiError
from oui_jupyter.services.users import UserInfo, identity_from_jupyter

if TYPE_CHECKING:
    from oui_jupyter.team.client.upstream import TeamUpstream
    from oui_jupyter.tools.registry import ToolRegistry

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

#: the most seconds one turn's channel is served
LIFETIME = 2 * 3600.0
#: seconds each long-poll may wait at the service
POLL_WAIT = 25.0
#: the largest result posted (the service refuses more)
MAX_RESULT_BYTES = 1024 * 1024
FIRST_RETRY = 0.5
#: seconds between polls while the service has not opened the turn's channel yet
NOT_OPEN_RETRY = 0.1
MAX_RETRY = 10.0


def new_channel_id() -> str:
    return secrets.token_urlsafe(24)


def local_user(current_user: Any) -> UserInfo:
    """This server's user as the local tools see them (their own files: no team roles)."""
    identity = identity_from_jupyter(current_user)
    return UserInfo(
        id=identity.username,
        name=identity.name or identity.username,
        display_name=identity.display_name or identity.username,
        role="admin" if identity.hub_admin else "user",
        groups=identity.groups,
    )


def local_tool_specs(registry: ToolRegistry, user: UserInfo, tool_ids: Any) -> list[dict[str, Any]]:
    """The specs of the tools of ``tool_ids`` that this server runs (``client_tools``)."""
    from oui_jupyter.tools.base import function_spec

    if not isinstance(tool_ids, list):
        return []
    specs = []
    for name in dict.fromkeys(t for t in tool_ids if isinstance(t, str)):
        try:
            entry = registry.get(name, user)
        except OuiError:
            continue  # the service's tool (or none: the service says 404)
        specs.append(
            {**function_spec(entry.tool), "requires_approval": entry.tool.requires_approval}
        )
    return specs


def result_body(call_id: str, result: dict[str, Any]) -> bytes:
    """A result to post, within ``MAX_RESULT_BYTES`` (its ``data`` dropped, then its text cut,
    when it is larger)."""
    body = _encode({"call_id": call_id, **result})
    if len(body) <= MAX_RESULT_BYTES:
        return body
    slim = {**result, "data": None}
    body = _encode({"call_id": call_id, **slim})
    if len(body) <= MAX_RESULT_BYTES:
        return body
    content = str(result.get("content") or "")[: MAX_RESULT_BYTES // 8]
    return _encode({"call_id": call_id, "content": content + "\n... [cut]", "sources": []})


class ChannelServer:
    """Serves one turn's tool channel (``start``; ``answered`` with the turn request's status)."""

    def __init__(
        self,
        upstream: TeamUpstream,
        registry: ToolRegistry,
        user: UserInfo,
        *,
        root_dir: str,
        notebook_path: str | None,
        names: set[str],
        channel: str | None = None,
        lifetime: float = LIFETIME,
        poll_wait: float = POLL_WAIT,
    ) -> None:
        self.upstream = upstream
        self.registry = registry
        self.user = user
        self.root_dir = root_dir
        self.notebook_path = notebook_path
        self.names = names
        self.channel = channel or new_channel_id()
        self.lifetime = lifetime
        self.poll_wait = poll_wait
        self.opened = asyncio.Event()  # the service took the turn: its channel is open
        self.task: asyncio.Task[None] | None = None
        self.ran: list[str] = []  # the call ids run here, in order (for tests and logs)
        self.specs: list[dict[str, Any]] = []  # what the turn sends as client_tools
        self._calls: set[asyncio.Task[None]] = set()

    def start(self, keep: set[asyncio.Task[None]]) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self.serve(), name=f"oui-tool-channel-{self.channel[:8]}"
        )
        keep.add(self.task)
        self.task.add_done_callback(keep.discard)

    def answered(self, status: int) -> None:
        """The service answered the turn's request: its channel is open, or, if the turn
        was refused, there is none to serve."""
        if 200 <= status < 300:
            self.opened.set()
        else:
            self.stop()

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    # ----- the long-poll -----
    def _url(self, what: str) -> str:
        return self.upstream.settings.api_url(f"v1/tools/channel/{self.channel}/{what}")

    def _headers(self) -> dict[str, str]:
        return {**self.upstream.headers({}), "Content-Type": "application/json"}

    async def serve(self) -> None:
        import httpx

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        after = 0
        seen: set[str] = set()
        delay = FIRST_RETRY
        try:
            while loop.time() < deadline:
                try:
                    response = await self.upstream.http.get(
                        self._url("requests"),
                        params={"wait": self.poll_wait, "after": after},
                        headers=self._headers(),
                        timeout=httpx.Timeout(self.poll_wait + 15, connect=10),
                    )
                except httpx.TransportError as error:  # the service restarts: ask again
                    log.info("oui: tool channel poll failed (%r); retrying", error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY)
                    continue
                delay = FIRST_RETRY
                if response.status_code == 404:
                    if self.opened.is_set():
                        return  # the turn is over (or was never the service's)
                    await asyncio.sleep(NOT_OPEN_RETRY)  # the turn (and its channel) is on its way
                    continue
                if response.status_code in (401, 403):
                    log.warning("oui: the team service refused the tool channel poll")
                    return
                if response.status_code != 200:
                    log.warning("oui: tool channel poll answered %d", response.status_code)
                    await asyncio.sleep(FIRST_RETRY)
                    continue
                data = response.json()
                for request in data.get("requests") or ():
                    call_id = str(request.get("call_id", ""))
                    if call_id and call_id not in seen:  # a request may come twice
                        seen.add(call_id)
                        task = loop.create_task(self._run(request))
                        self._calls.add(task)
                        task.add_done_callback(self._calls.discard)
                after = max(after, int(data.get("cursor") or after))
                if not data.get("running", False):
                    return
        finally:
            for task in list(self._calls):
                task.cancel()

    # ----- one call -----
    async def _run(self, request: dict[str, Any]) -> None:
        from oui_jupyter.tools.base import ToolContext

        call_id = str(request["call_id"])
        name = str(request.get("name", ""))
        self.ran.append(call_id)
        result: dict[str, Any]
        if name not in self.names:
            result = {"error": f"{name} is not one of the tools this server offered"}
        else:
            context = ToolContext(
                user=self.user,
                root_dir=self.root_dir,
                chat_id=_str_or_none(request.get("chat_id")),
                message_id=_str_or_none(request.get("message_id")),
                call_id=_str_or_none(request.get("tool_call_id")),
                notebook_path=self.notebook_path,
            )
            try:
                answer = await self.registry.run(name, request.get("arguments") or {}, context)
                result = answer.to_json()
            except OuiError as error:  # ToolError, NotFound: told to the model
                result = {"error": error.message}
            except Exception:
                log.exception("oui: tool %s failed", name)
                result = {"error": "the tool failed on the user's server"}
        try:
            body = result_body(call_id, result)
        except (TypeError, ValueError, msgspec.EncodeError):
            body = result_body(call_id, {"error": f"{name}: its result is not JSON"})
        await self._post(body)

    async def _post(self, body: bytes) -> None:
        import httpx

        for attempt in range(3):
            try:
                response = await self.upstream.http.post(
                    self._url("results"), content=body, headers=self._headers()
                )
            except httpx.TransportError as error:
                log.info("oui: a tool result was not delivered (%r)", error)
                await asyncio.sleep(FIRST_RETRY * 2**attempt)
                continue
            if response.status_code != 200:  # the call ended (timed out, turn over)
                log.info("oui: the service took no tool result (%d)", response.status_code)
            return


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
