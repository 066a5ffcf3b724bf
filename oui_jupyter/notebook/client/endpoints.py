"""The table of API operations, each described once: its method and path, how its body is
built, how its answer is read. Both clients inherit it and differ only in how they run it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from oui_jupyter.notebook.client.errors import OuiError
from oui_jupyter.notebook.client.hits import Hit, parse_hits
from oui_jupyter.notebook.client.payloads import (
    FIND_CHAT_MAX_PAGES,
    WORKSPACE,
    exact_title,
    index_done,
    knowledge_items,
    message_body,
    new_chat_body,
    pick_model,
)
from oui_jupyter.notebook.client.plan import (
    Call,
    Plan,
    Sleep,
    Stream,
    endpoint,
    streaming,
    unstreamed,
)
from oui_jupyter.notebook.discovery import ServerInfo

MODELS = Call("GET", "models")
# The whole list: waits for connections still answering (the plain list does not).
ALL_MODELS = Call("GET", "models", params={"wait": "true"})
STATUS = Call("GET", "v1/retrieval/status")


def chat_path(chat_id: str, rest: str = "") -> str:
    return f"v1/chats/{quote(chat_id, safe='')}{rest}"


def api_path(url: str) -> str:
    """``/base/oui/api/v1/files/x/content`` -> ``v1/files/x/content`` (the client's paths)."""
    marker = "oui/api/"
    at = url.rfind(marker)
    if at < 0:
        raise OuiError(f"oui: the server answered a URL outside its API: {url[:200]}")
    return url[at + len(marker) :]


def listed_models(body: Any) -> list[dict[str, Any]]:
    return list(body.get("data", []))


class OuiApi:
    """The operations of ``oui/api`` (``server`` is the client's)."""

    server: ServerInfo

    # -- reads
    @endpoint
    def version(self) -> Plan[str]:
        return str((yield Call("GET", "version")).get("version", ""))

    @endpoint
    def models(self, wait: bool = False) -> Plan[list[dict[str, Any]]]:
        """``wait``: also the models of connections that have not answered yet."""
        return listed_models((yield ALL_MODELS if wait else MODELS))

    @endpoint
    def model(self, wanted: str) -> Plan[dict[str, Any]]:
        body = yield MODELS
        if body.get("pending") and not any(
            m.get("id") == wanted for m in listed_models(body)
        ):  # perhaps a model of a connection still answering
            body = yield ALL_MODELS
        return pick_model(listed_models(body), wanted)

    @endpoint
    def chats(self, page: int = 1) -> Plan[list[dict[str, Any]]]:
        return list((yield Call("GET", "v1/chats/", params={"page": page})))

    @endpoint
    def get_chat(self, chat_id: str) -> Plan[dict[str, Any]]:
        return dict((yield Call("GET", chat_path(chat_id))))

    @endpoint
    def find_chat(self, title: str) -> Plan[dict[str, Any] | None]:
        """The newest chat with exactly this title, or ``None`` (see ``exact_title``)."""
        for page in range(1, FIND_CHAT_MAX_PAGES + 1):
            found = yield Call("GET", "v1/chats/search", params={"text": title, "page": page})
            match = exact_title(found, title)
            if match is not None or not found:
                return match
        return None

    @endpoint
    def prompt(self, command: str) -> Plan[dict[str, Any]]:
        """The library prompt of ``/command`` (``command`` with or without its ``/``)."""
        slug = quote(command.removeprefix("/"), safe="")
        return dict((yield Call("GET", f"v1/prompts/command/{slug}")))

    @endpoint
    def prompts(self) -> Plan[list[dict[str, Any]]]:
        """The library prompts the user may use, newest first."""
        return list((yield Call("GET", "v1/prompts/")))

    @endpoint
    def knowledge(self) -> Plan[list[dict[str, Any]]]:
        return knowledge_items((yield Call("GET", "v1/knowledge/")))

    @endpoint
    def status(self) -> Plan[dict[str, Any]]:
        return dict((yield STATUS))

    @endpoint
    def wait_for_index(self, timeout: float = 300.0, poll: float = 0.5) -> Plan[dict[str, Any]]:
        """Wait until the workspace index is idle with every chunk embedded; the last status."""
        deadline = time.monotonic() + timeout
        status = dict((yield STATUS))
        while not index_done(status):
            if time.monotonic() > deadline:
                raise OuiError(
                    f"oui: the workspace index is still busy after {timeout:.0f} s ({status.get('state')})"
                )
            yield Sleep(poll)
            status = dict((yield STATUS))
        return status

    @endpoint
    def search(self, query: str, k: int = 5, collection: str = WORKSPACE) -> Plan[list[Hit]]:
        body = yield Call(
            "POST",
            "v1/retrieval/query/collection",
            json={"collection_names": [collection], "query": query, "k": k},
        )
        return parse_hits(body or {}, self.server)

    # -- writes
    @endpoint
    def create_chat(self, title: str, model: str | None = None) -> Plan[dict[str, Any]]:
        return dict((yield Call("POST", "v1/chats/new", json=new_chat_body(title, model))))

    @endpoint
    def delete_chat(self, chat_id: str) -> Plan[None]:
        yield Call("DELETE", chat_path(chat_id))

    @endpoint
    def approve_tool(
        self, chat_id: str | None, message_id: str, call_id: str, decision: str
    ) -> Plan[None]:
        """Decide a tool call that waits: ``approve``, ``deny`` or ``approve_chat``."""
        body = {
            "chat_id": chat_id,
            "message_id": message_id,
            "call_id": call_id,
            "decision": decision,
        }
        yield Call("POST", "v1/tools/approve", json=body)

    @endpoint
    def stop(self, chat_id: str) -> Plan[None]:
        yield Call("POST", f"tasks/chat/{quote(chat_id, safe='')}/stop")

    @endpoint
    def generate_images(
        self, prompt: str, *, model: str | None = None, size: str | None = None, n: int = 1
    ) -> Plan[list[dict[str, Any]]]:
        """Generate images (the server saves each as one of your files): for each, its
        ``url`` on the server and its ``data`` (the image's bytes)."""
        body: dict[str, Any] = {"prompt": prompt, "n": n}
        body.update({k: v for k, v in (("model", model), ("size", size)) if v})
        images = []
        for item in (yield Call("POST", "v1/images/generations", json=body)) or []:
            url = str(item.get("url", ""))
            data = yield Call("GET", api_path(url), raw=True)
            images.append({"url": url, "data": data})
        return images

    # -- turns
    @streaming
    def stream_message(
        self,
        chat_id: str,
        content: str | list[dict[str, Any]],
        *,
        model: str | None = None,
        parent_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workspace: bool = False,
        params: dict[str, Any] | None = None,
        tool_ids: list[str] | None = None,
        notebook_path: str | None = None,
    ) -> Stream:
        """Start one turn; iterate the result for text, then read ``.message``; ``tool_ids``:
        the server's tools the model may call (a call that needs approval shows up as
        ``Turn.approvals``)."""
        body = message_body(
            content,
            model,
            parent_id,
            files,
            workspace,
            stream=True,
            params=params,
            tool_ids=tool_ids,
            notebook_path=notebook_path,
        )
        return Stream(chat_path(chat_id, "/message"), body)

    @streaming
    def stream_completion(self, messages: list[dict[str, Any]], model: str, **extra: Any) -> Stream:
        """``oui/api/chat/completions`` with ``stream: true`` (no chat is saved unless ``chat_id``)."""
        return Stream(
            "chat/completions", {"model": model, "messages": messages, "stream": True, **extra}
        )

    send_message = endpoint(
        unstreamed(stream_message, "Run one turn in a chat and wait for the assistant message.")
    )
