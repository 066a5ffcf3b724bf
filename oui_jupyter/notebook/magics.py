"""``%load_ext oui_jupyter``: the ``%%chat`` cell magic and the ``%oui`` line magic.

Conversations are real chats on the server: consecutive ``%%chat`` cells of a notebook
continue the chat titled after the notebook, which the sidebar lists and can continue.
Every failure prints one line in the cell; nothing here imports httpx until a magic runs.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from oui_jupyter.notebook import context, images, render, safe_html
from oui_jupyter.notebook.client import NotFound, OuiError, normalise_sources
from oui_jupyter.notebook.session import Session, fill_template, shared_session

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

FORMATS = ("markdown", "code", "text", "json")
UPDATE_EVERY = 0.05  # seconds between in-place updates of the answer while streaming
FORMAT_HINTS = {
    "code": "Answer with one Python code block.",
    "json": "Answer with JSON only.",
}


def say(message: str) -> None:
    """One line in the cell's output (stderr, so it reads as a notice, not a result)."""
    print(message, file=sys.stderr)


def _unquote(value: str | None) -> str | None:
    """IPython's argument splitter keeps the quotes of ``--knowledge "My papers"``: drop them."""
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _split_names(values: list[str]) -> list[str]:
    """``--knowledge a,b --knowledge "c, d"``: comma-separated names; a quoted value is one name."""
    names: list[str] = []
    for value in values:
        unquoted = _unquote(value) or ""
        parts = [unquoted] if unquoted != value else value.split(",")
        names.extend(part.strip() for part in parts if part.strip())
    return names


@magics_class
class OuiMagics(Magics):
    """Chat with the server's models from notebook cells."""

    def __init__(
        self,
        shell: Any,
        session: Session | None = None,
        figures: images.FigureMemory | None = None,
    ) -> None:
        super().__init__(shell)
        self.session = session or Session()
        self.figures = figures or images.FigureMemory()

    @property
    def ipython(self) -> InteractiveShell:
        """The shell these magics are registered on (never None once loaded)."""
        assert self.shell is not None
        return self.shell

    # -- %%chat
    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        metavar="/COMMAND",
        help="start from this prompt of the library; the cell (may be empty) follows it",
    )
    @argument(
        "--var",
        dest="prompt_vars",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fill the prompt's {{NAME}} (else a built-in, else the notebook variable NAME)",
    )
    @argument("-m", "--model", help="model id (default: %%oui use, else the server's first)")
    @argument("--new", action="store_true", help="start a new chat (later cells continue it)")
    @argument("--chat", dest="chat_id", metavar="ID", help="continue this chat id (this cell only)")
    @argument(
        "--workspace", action="store_true", help="answer from the indexed workspace, with citations"
    )
    @argument(
        "--knowledge",
        action="append",
        default=[],
        metavar="NAME",
        help="answer from a knowledge collection",
    )
    @argument("-f", "--format", choices=FORMATS, default="markdown", help="how to show the answer")
    @argument("--max-tokens", type=int, metavar="N", help="cap the answer's length")
    @argument(
        "--with",
        dest="with_vars",
        action="append",
        default=[],
        metavar="VAR",
        help="describe these variables to the model (DataFrame schema and head, array shape...)",
    )
    @argument(
        "--image",
        dest="images",
        action="append",
        default=[],
        metavar="VAR_OR_PATH",
        help="show the model an image: a PIL image, a matplotlib figure, image bytes or a file "
        "path (a vision model)",
    )
    @argument("--figure", action="store_true", help="show the model the last matplotlib figure")
    @argument(
        "--tools",
        metavar="A,B",
        help="let the model call these server tools (ids of GET v1/tools/); a call that "
        "changes things asks you first",
    )
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> Any:
        """Ask the model; the cell body is the prompt, ``{name}`` is filled from the notebook.
        ``%chat /command`` (one line) sends a library prompt alone."""
        args = parse_argstring(self.chat, line)
        try:
            prompt = fill_template(cell or "", self.ipython.user_ns).strip()
            if args.command:
                library = self._library_prompt(args.command, args.prompt_vars)
                prompt = f"{library}\n\n{prompt}" if prompt else library
            elif args.prompt_vars:
                raise OuiError("oui: --var fills a library prompt: write %%chat /command --var ...")
            if not prompt:
                raise OuiError("oui: the cell is empty: write the question below %%chat")
            described = [self._describe(name) for name in _split_names(args.with_vars)]
            prompt = context.with_context(prompt, described)
            if args.format in FORMAT_HINTS:
                prompt += "\n\n" + FORMAT_HINTS[args.format]
            pictures = [self._image(_unquote(name) or "") for name in args.images]
            if args.figure:
                pictures.append(images.data_url(images.figure_png(self.figures.current())))
            return self.ask(
                prompt,
                model=_unquote(args.model),
                new=args.new,
                chat_id=_unquote(args.chat_id),
                workspace=args.workspace,
                knowledge=_split_names(args.knowledge),
                fmt=args.format,
                params={"max_tokens": args.max_tokens} if args.max_tokens else None,
                image_urls=pictures,
                tool_ids=_split_names([args.tools]) if args.tools else None,
            )
        except OuiError as error:
            say(str(error))
        return None

    def _library_prompt(self, command: str, given: list[str]) -> str:
        """``%%chat /command``: the library prompt's content, its ``{{variables}}`` filled
        (``prompt_variables``: ``--var``, built-ins, then the notebook's variables)."""
        from oui_jupyter.notebook import prompt_variables as pv

        command = _unquote(command) or ""
        if not command.startswith("/"):
            raise OuiError(f"oui: {command!r}: a library prompt is named /command")
        try:
            values = pv.parse_vars([_unquote(item) or "" for item in given])
        except ValueError as error:
            raise OuiError(f"oui: {error}") from None
        try:
            found = self.session.client.prompt(command)
        except NotFound:
            raise NotFound(f"oui: no prompt {command} (list them with %oui prompts)") from None
        try:
            return pv.fill(str(found.get("content") or ""), values, self.ipython.user_ns).strip()
        except pv.MissingVariables as missing:
            names = ", ".join(f"{{{{{n}}}}}" for n in missing.names)
            raise OuiError(
                f"oui: {command} needs {names}: give --var NAME=VALUE or define NAME in the notebook"
            ) from None

    def _image(self, name: str) -> str:
        """``--image NAME``: a notebook variable of that name, else a file path."""
        namespace = self.ipython.user_ns
        if name.isidentifier() and name in namespace:
            return images.data_url(images.image_bytes(namespace[name]))
        try:
            root = self.session.server.root_dir
        except OuiError:
            root = ""
        return images.data_url(images.image_bytes(name, root))

    def _describe(self, name: str) -> str:
        if name not in self.ipython.user_ns:
            raise OuiError(f"oui: --with {name}: {name} is not defined in the notebook")
        return context.describe(name, self.ipython.user_ns[name])

    def ask(
        self,
        prompt: str,
        *,
        model: str | None = None,
        new: bool = False,
        chat_id: str | None = None,
        workspace: bool = False,
        knowledge: list[str] | None = None,
        fmt: str = "markdown",
        params: dict[str, Any] | None = None,
        image_urls: list[str] | None = None,
        tool_ids: list[str] | None = None,
    ) -> Any:
        """One turn in the notebook's chat, streamed into the output; ``image_urls``: data URLs
        shown to the model with the prompt."""
        session = self.session
        model_id = session.resolve_model(model)
        files = session.knowledge_files(knowledge or [])
        if chat_id:
            target = chat_id
        elif new:
            target = session.new_chat(model_id)
        else:
            target = session.notebook_chat(model_id)
        try:
            content: str | list[dict[str, Any]] = prompt
            if image_urls:
                content = [
                    {"type": "text", "text": prompt},
                    *({"type": "image_url", "image_url": {"url": url}} for url in image_urls),
                ]
            turn = session.client.stream_message(
                target,
                content,
                model=model_id,
                files=files,
                workspace=workspace,
                params=params,
                tool_ids=tool_ids,
                notebook_path=session.notebook if tool_ids else None,
            )
        except NotFound:
            if chat_id:  # the model was checked above: the chat is what is missing
                raise NotFound(
                    f"oui: chat {chat_id!r} not found (list yours with %oui chats)"
                ) from None
            raise
        view = _AnswerView(fmt)
        try:
            turn.on_approval = self._approve
            for text in turn:
                view.add(text)
        except KeyboardInterrupt:
            self._stop(target)
            view.finish([])
            say("oui: stopped")
            return None
        message = turn.message or {}
        sources = normalise_sources(message.get("sources"), session.server)
        view.finish(sources, str(message.get("content") or turn.content))
        return self._deliver(fmt, view.content)

    def _approve(self, status: dict[str, Any]) -> None:
        """A tool call waits for the user: ask on the kernel's stdin, post the decision."""
        question = (
            f"oui: {status.get('description') or 'a tool call waits'}. "
            "Approve? [y]es / [n]o / [a]lways in this chat: "
        )
        try:
            answer = input(question).strip().lower()
        except (EOFError, RuntimeError):  # no stdin (a frontend that cannot ask): denied
            answer = "n"
        decision = {"y": "approve", "yes": "approve", "a": "approve_chat", "always": "approve_chat"}
        self.session.client.approve_tool(
            status.get("chat_id"),
            str(status.get("message_id") or ""),
            str(status.get("call_id") or ""),
            decision.get(answer, "deny"),
        )

    def _stop(self, chat_id: str) -> None:
        try:
            self.session.client.stop(chat_id)
        except OuiError:
            pass

    def _deliver(self, fmt: str, content: str) -> Any:
        if fmt == "code":
            blocks = render.code_blocks(content)
            if blocks:
                self.ipython.set_next_input("\n\n".join(blocks), replace=False)
            return None
        if fmt == "json":
            from IPython.display import JSON, display

            try:
                value = render.json_value(content)
            except ValueError:
                say("oui: the answer is not valid JSON (shown above as text)")
                return None
            display(JSON(value) if isinstance(value, (dict, list)) else value)
            return value
        return None

    # -- %%image
    @magic_arguments()
    @argument("-m", "--model", help="image model (default: the one the server's admin set)")
    @argument("--size", metavar="WxH", help="e.g. 1024x1024 (default: the server's)")
    @argument("-n", type=int, default=1, help="how many images (1-4)")
    @cell_magic
    def image(self, line: str, cell: str) -> None:
        """Generate images from the cell's prompt (``{name}`` filled from the notebook) and
        show them as image outputs; each is also saved as one of your files on the server."""
        from IPython.display import display

        from oui_jupyter.notebook.image_outputs import image_bundle

        args = parse_argstring(self.image, line)
        try:
            prompt = fill_template(cell, self.ipython.user_ns).strip()
            if not prompt:
                raise OuiError("oui: the cell is empty: describe the image below %%image")
            images = self.session.client.generate_images(
                prompt, model=_unquote(args.model), size=_unquote(args.size), n=args.n
            )
            for item in images:
                try:
                    data, metadata = image_bundle(item["data"], prompt, item["url"])
                except ValueError as error:
                    raise OuiError(f"oui: the server answered an image that is {error}") from None
                display(data, metadata=metadata, raw=True)
        except OuiError as error:
            say(str(error))

    # -- %oui
    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        default="help",
        help="models | use MODEL | chats | new [TITLE] | chat ID | search QUERY | prompts | status | explain [QUESTION] | help",
    )
    @argument("words", nargs="*", help="the command's argument (a model, a query...)")
    @argument("-k", type=int, default=5, help="search: how many hits")
    @line_magic
    def oui(self, line: str) -> Any:
        """Models, chats, workspace search and index status; ``%oui explain`` for the last error."""
        try:
            args = parse_argstring(self.oui, line)
        except ValueError:  # an apostrophe in a query: take the words as they are
            command, _, rest = line.strip().partition(" ")
            args = parse_argstring(self.oui, command)
            args.words = rest.split()
        handler = getattr(self, f"_oui_{args.command.replace('-', '_')}", None)
        if handler is None:
            say(f"oui: unknown command {args.command!r}; try %oui help")
            return None
        try:
            return handler(_unquote(" ".join(args.words).strip()) or "", args)
        except OuiError as error:
            say(str(error))
        return None

    def _oui_help(self, _words: str, _args: Any) -> None:
        print(self.oui.__doc__)
        print(
            "Commands: models, use MODEL, chats, new [TITLE], chat ID, search QUERY [-k N], prompts, "
            "status, explain"
        )
        print(
            "Cells: %%chat [/COMMAND [--var NAME=VALUE]] [-m MODEL] [--new | --chat ID] [--workspace | --knowledge NAME] "
            "[-f markdown|code|text|json] [--with VAR] [--image VAR_OR_PATH] [--figure]; "
            "%%image [-m MODEL] [--size WxH] [-n N]"
        )

    def _oui_models(self, _words: str, _args: Any) -> None:
        from IPython.display import display

        session = self.session
        models = session.models(refresh=True)
        current = session.model or (models and session.resolve_model())
        display(render.models_bundle(models, current or None), raw=True)

    def _oui_use(self, words: str, _args: Any) -> None:
        if not words:
            raise OuiError("oui: %oui use needs a model id (see %oui models)")
        print(f"oui: using model {self.session.use_model(words)}")

    def _oui_chats(self, _words: str, _args: Any) -> None:
        from IPython.display import display

        display(render.chats_bundle(self.session.client.chats(), self.session.chat_id), raw=True)

    def _oui_new(self, words: str, _args: Any) -> None:
        session = self.session
        chat_id = session.new_chat(session.model, words or None)
        print(f"oui: new chat {chat_id}; the next %%chat cells continue it")

    def _oui_chat(self, words: str, _args: Any) -> None:
        if not words:
            raise OuiError("oui: %oui chat needs a chat id (see %oui chats)")
        chat = self.session.use_chat(words)
        self.session.chat_id = str(chat["id"])
        print(f"oui: continuing chat {chat.get('title', '')!r} ({chat['id']})")

    def _oui_search(self, words: str, args: Any) -> Any:
        from IPython.display import HTML, display

        if not words:
            raise OuiError("oui: %oui search needs a query")
        hits = self.session.client.search(words, k=max(1, args.k))
        display(HTML(render.hits_html(words, hits)), metadata={"oui": {"hits": len(hits)}})
        return None

    def _oui_prompts(self, _words: str, _args: Any) -> None:
        prompts = self.session.client.prompts()
        if not prompts:
            print("oui: no prompts in the library yet (add them in the sidebar)")
        for item in prompts:
            print(f"{item.get('command', '')}  {item.get('title', '')}")

    def _oui_status(self, _words: str, _args: Any) -> None:
        print(render.status_text(self.session.client.status()))

    def _oui_explain(self, words: str, _args: Any) -> Any:
        last = context.last_exception()
        if last is None:
            raise OuiError("oui: no exception to explain yet (run the failing cell first)")
        _error, text = last
        return self.ask(context.explain_prompt(text, question=words))


class _AnswerView:
    """Shows a streaming answer: Markdown (as inert HTML) updated in place, or plain text as it comes."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.content = ""
        self._handle: Any = None
        self._last = 0.0

    def add(self, text: str) -> None:
        self.content += text
        if self.fmt == "text":
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        now = time.monotonic()
        if self._handle is None or now - self._last >= UPDATE_EVERY:
            self._show(self.content + " ▌")
            self._last = now

    def _show(self, text: str) -> None:
        from IPython.display import display

        if self._handle is None:
            self._handle = display(safe_html.bundle(text), raw=True, display_id=True)
        else:
            self._handle.update(safe_html.bundle(text), raw=True)

    def finish(self, sources: list[Any], final: str | None = None) -> None:
        if final is not None and final:
            self.content = final
        if self.fmt == "text":
            print(render.sources_text(sources) if sources else "")
            return
        self._show(self.content + render.sources_markdown(sources))


def _show_oui_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> None:
    """An ``OuiError`` raised by client code in a cell: its one line, not our internals' traceback."""
    say(str(value))


def load_ipython_extension(ipython: Any) -> None:
    session = shared_session()
    figures = images.FigureMemory()
    figures.install(ipython)
    ipython.register_magics(OuiMagics(ipython, session=session, figures=figures))
    if not getattr(ipython, "custom_exceptions", ()):  # never replace another extension's handler
        ipython.set_custom_exc((OuiError,), _show_oui_error)
    try:
        _ = session.server  # reads the runtime dir only: no network, no httpx
    except OuiError as error:
        say(str(error))


def unload_ipython_extension(ipython: Any) -> None:
    if getattr(ipython, "custom_exceptions", ()) == (OuiError,):
        ipython.set_custom_exc((), None)
    magics = ipython.magics_manager.registry.pop("OuiMagics", None)
    if magics is not None:
        magics.figures.uninstall(ipython)
        for kind in ("line", "cell"):
            table = ipython.magics_manager.magics[kind]
            for name in list(table):
                if getattr(table[name], "__self__", None) is magics:
                    del table[name]
