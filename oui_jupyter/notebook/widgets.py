"""ipywidgets for the output area: :class:`ChatWidget` and :class:`SearchWidget`.

They use the kernel's shared session, so a ``ChatWidget()`` continues the same chat as the
notebook's ``%%chat`` cells, which is the chat the sidebar lists. Plain ipywidgets: they work
in JupyterLab and Notebook 7 with no frontend code of ours.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as widgets

from oui_jupyter.notebook import render, safe_html
from oui_jupyter.notebook.client import Hit, OuiError, normalise_sources
from oui_jupyter.notebook.session import Session, shared_session

UPDATE_EVERY = 0.05


def _markdown_output(text: str) -> dict[str, Any]:
    """Markdown from a chat as an output: inert HTML (see :mod:`safe_html`) and the text."""
    return {"output_type": "display_data", "data": safe_html.bundle(text), "metadata": {}}


def _speaker(message: dict[str, Any]) -> str:
    if message.get("role") == "user":
        return "**You**"
    return f"**{message.get('model') or 'Assistant'}**"


class ChatWidget(widgets.VBox):
    """A chat in the output area: model picker, history, input, Send and Stop.

    ``ChatWidget()`` opens this notebook's chat; ``ChatWidget(chat_id=...)`` another one.
    ``widget.ask("...")`` sends from code and waits for the answer (scripts, tests).
    ``tools=["read_file", ...]``: the server's tools the model may call; a call that waits
    for approval shows Approve / Deny / Approve for this chat buttons.
    """

    def __init__(
        self,
        chat_id: str | None = None,
        model: str | None = None,
        *,
        workspace: bool = False,
        session: Session | None = None,
        tools: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.session = session or shared_session()
        self.tool_ids = list(tools or [])
        self.approval = widgets.HBox([])  # a tool call's buttons while it waits
        self.chat_id = chat_id
        self.messages: list[dict[str, Any]] = []
        self.last_message: dict[str, Any] | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()

        self.model_picker = widgets.Dropdown(
            description="Model", layout=widgets.Layout(width="auto")
        )
        self.workspace_box = widgets.Checkbox(
            value=workspace, description="Workspace sources", indent=False
        )
        self.history = widgets.Output(layout=widgets.Layout(max_height="480px", overflow="auto"))
        self.prompt = widgets.Textarea(
            placeholder="Ask something…",
            layout=widgets.Layout(width="100%", height="5em"),
        )
        self.send_button = widgets.Button(
            description="Send", button_style="primary", icon="paper-plane"
        )
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.status = widgets.HTML()
        self.send_button.on_click(lambda _b: self.send())
        self.stop_button.on_click(lambda _b: self.stop())
        controls = widgets.HBox(
            [self.model_picker, self.workspace_box, self.send_button, self.stop_button]
        )
        super().__init__(
            [self.history, self.prompt, controls, self.approval, self.status], **kwargs
        )
        self.add_class("oui-chat-widget")
        self._load(model)

    # -- setup
    def _load(self, model: str | None) -> None:
        try:
            models = self.session.models()
            self.model_picker.options = [
                (str(m.get("name") or m["id"]), str(m["id"])) for m in models
            ]
            if self.chat_id is not None:
                chat = self.session.use_chat(self.chat_id)
            else:
                chosen = self.session.resolve_model(model) if models else None
                self.chat_id = self.session.notebook_chat(chosen)
                chat = self.session.client.get_chat(self.chat_id)
            self.messages = [
                m for m in chat.get("chat", {}).get("messages", []) if isinstance(m, dict)
            ]
            chat_models = chat.get("chat", {}).get("models") or []
            wanted = model or self.session.model or (chat_models[0] if chat_models else None)
            if models:
                self.model_picker.value = self.session.resolve_model(wanted)
            self._render_history()
            title = html.escape(str(chat.get("title", "")))
            self._say(f"Chat <b>{title}</b>: {len(self.messages)} messages")
        except OuiError as error:
            self._fail(str(error))

    def _render_history(self, streaming: str | None = None) -> None:
        outputs = []
        for message in self.messages:
            text = f"{_speaker(message)}: {message.get('content', '')}"
            if message.get("sources"):
                text += render.sources_markdown(
                    normalise_sources(message["sources"], self.session.server)
                )
            outputs.append(_markdown_output(text))
        if streaming is not None:
            outputs.append(_markdown_output(f"**{self.model_picker.value}**: {streaming}"))
        self.history.outputs = tuple(outputs)

    def _say(self, message: str) -> None:
        self.status.value = f'<span class="oui-status">{message}</span>'

    def _fail(self, message: str) -> None:
        self.status.value = f'<span class="oui-error" style="color: var(--jp-error-color1, #c00)">{html.escape(message)}</span>'

    # -- actions
    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def send(self, text: str | None = None, wait: bool = False) -> None:
        """Send the box's text (or ``text``); the answer streams into the history."""
        text = (self.prompt.value if text is None else text).strip()
        if not text or self.busy:
            return
        if self.chat_id is None:
            self._fail("oui: no chat (see the message above)")
            return
        self.prompt.value = ""
        self._stop.clear()
        self.send_button.disabled, self.stop_button.disabled = True, False
        self._worker = threading.Thread(target=self._turn, args=(text,), daemon=True)
        self._worker.start()
        if wait:
            self._worker.join()

    def ask(self, text: str) -> dict[str, Any] | None:
        """Send and wait; the assistant message (``None`` on error)."""
        self.last_message = None
        self.send(text, wait=True)
        return self.last_message

    def stop(self) -> None:
        """Stop the answer being written (the server stops the model too)."""
        self._stop.set()
        if self.chat_id is not None:
            try:
                self.session.client.stop(self.chat_id)
            except OuiError:
                pass

    def _turn(self, text: str) -> None:
        assert self.chat_id is not None
        self.messages.append({"role": "user", "content": text})
        self._render_history(streaming="▌")
        self._say("Writing…")
        content, last = "", 0.0
        try:
            turn = self.session.client.stream_message(
                self.chat_id,
                text,
                model=self.model_picker.value or None,
                workspace=self.workspace_box.value,
                tool_ids=self.tool_ids or None,
                notebook_path=self.session.notebook if self.tool_ids else None,
            )
            turn.on_approval = self._approve
            for piece in turn:
                content += piece
                if self._stop.is_set():
                    break
                now = time.monotonic()
                if now - last >= UPDATE_EVERY:
                    self._render_history(streaming=content + " ▌")
                    last = now
            message = dict(turn.message or {"role": "assistant", "content": content})
            message.setdefault("model", self.model_picker.value)
            message["content"] = str(message.get("content") or content)
            self.messages.append(message)
            self.last_message = message
            self._render_history()
            self._say("Stopped" if self._stop.is_set() else "Done")
        except OuiError as error:
            self._render_history()
            self._fail(str(error))
        finally:
            self.send_button.disabled, self.stop_button.disabled = False, True

    def _approve(self, status: dict[str, Any]) -> None:
        """A tool call waits (in the turn's thread): show the buttons, wait for a click
        (or Stop: denied), post the decision."""
        decided = threading.Event()
        choice = ["deny"]

        def pick(decision: str) -> None:
            choice[0] = decision
            decided.set()

        description = str(status.get("description") or "A tool call waits for approval")
        buttons = []
        for label, decision, style in (
            ("Approve", "approve", "success"),
            ("Deny", "deny", "danger"),
            ("Approve for this chat", "approve_chat", ""),
        ):
            b = widgets.Button(description=label, button_style=style)
            b.on_click(lambda _b, d=decision: pick(d))
            buttons.append(b)
        self.approval.children = (widgets.Label(description), *buttons)
        self._say(html.escape(description))
        while not decided.wait(0.2) and not self._stop.is_set():
            pass
        self.approval.children = ()
        try:
            self.session.client.approve_tool(
                status.get("chat_id"),
                str(status.get("message_id") or ""),
                str(status.get("call_id") or ""),
                choice[0],
            )
        except OuiError as error:
            self._fail(str(error))
        self._say("Writing…")


class SearchWidget(widgets.VBox):
    """Search the indexed workspace: a query box and results linking into Lab."""

    def __init__(
        self, query: str = "", k: int = 5, *, session: Session | None = None, **kwargs: Any
    ) -> None:
        self.session = session or shared_session()
        self.hits: list[Hit] = []
        self.query_box = widgets.Text(
            value=query, placeholder="Search the workspace…", layout=widgets.Layout(width="60%")
        )
        self.k_box = widgets.BoundedIntText(
            value=k, min=1, max=50, description="k", layout=widgets.Layout(width="8em")
        )
        self.search_button = widgets.Button(description="Search", icon="search")
        self.results = widgets.HTML()
        self.search_button.on_click(lambda _b: self.search())
        self.query_box.continuous_update = False
        self.query_box.observe(lambda _change: self.search(), names="value")
        super().__init__(
            [widgets.HBox([self.query_box, self.k_box, self.search_button]), self.results], **kwargs
        )
        self.add_class("oui-search-widget")
        if query:
            self.search()

    def search(self, query: str | None = None) -> list[Hit]:
        if query is not None and query != self.query_box.value:
            self.query_box.value = query  # observing the box runs the search
            return self.hits
        text = self.query_box.value.strip()
        if not text:
            self.results.value = ""
            return []
        try:
            self.hits = self.session.client.search(text, k=int(self.k_box.value))
            self.results.value = render.hits_html(text, self.hits)
        except OuiError as error:
            self.hits = []
            self.results.value = f'<span class="oui-error">{html.escape(str(error))}</span>'
        return self.hits
