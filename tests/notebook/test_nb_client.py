"""The kernel-side client against a scripted server that follows the contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nb_scripted_server import TOKEN, ScriptedServer
from nb_support import free_port

from oui_jupyter.notebook.client import (
    AsyncOuiClient,
    AuthError,
    NotFound,
    OuiClient,
    OuiError,
    ServerUnreachable,
    SSEParser,
    Turn,
    normalise_sources,
)
from oui_jupyter.notebook.discovery import ServerInfo


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def scripted_info(scripted: ScriptedServer) -> ServerInfo:
    return ServerInfo(url=scripted.url, token=TOKEN, source="test", root_dir="/srv")


def test_reads(scripted: ScriptedServer, scripted_info: ServerInfo) -> None:
    with OuiClient(scripted_info) as client:
        assert client.version() == "0.0-test"
        assert [m["id"] for m in client.models()] == ["smollm2", "other"]
        assert client.model("SmolLM2")["id"] == "smollm2"
        with pytest.raises(NotFound, match=r"unknown model 'nope'.*smollm2, other"):
            client.model("nope")
        assert client.status()["files"] == 3
        assert client.knowledge() == [{"id": "kb-1", "name": "papers"}]
    method, path, _body, headers = scripted.state.requests[0]
    assert (method, path) == ("GET", "/oui/api/version")
    assert headers["Authorization"] == f"token {TOKEN}"


def test_a_model_of_a_connection_still_answering_is_waited_for(
    scripted: ScriptedServer, scripted_info: ServerInfo
) -> None:
    """The list answers at once, naming connections still answering in ``pending``: a model
    not listed yet is looked up again in the whole list (``?wait=true``)."""
    scripted.state.pending_models = [{"id": "late", "object": "model", "name": "Late"}]
    with OuiClient(scripted_info) as client:
        assert [m["id"] for m in client.models()] == ["smollm2", "other"]
        assert client.model("smollm2")["id"] == "smollm2"
        asked = len(scripted.state.requests)
        assert client.model("late")["id"] == "late"
        assert len(scripted.state.requests) == asked + 2
        assert [m["id"] for m in client.models(wait=True)] == ["smollm2", "other", "late"]


def test_chats_are_found_by_exact_title(scripted_info: ServerInfo) -> None:
    with OuiClient(scripted_info) as client:
        assert client.find_chat("nb.ipynb") is None
        created = client.create_chat("nb.ipynb", "smollm2")
        client.create_chat("nb.ipynb (copy)")
        assert created["chat"]["models"] == ["smollm2"]
        assert client.find_chat("nb.ipynb")["id"] == created["id"]
        assert {c["title"] for c in client.chats()} == {"nb.ipynb", "nb.ipynb (copy)"}
        with pytest.raises(NotFound, match="Chat nope not found"):
            client.get_chat("nope")


def test_the_notebook_chat_is_found_behind_pages_of_chats_that_mention_it(
    scripted: ScriptedServer,
    scripted_info: ServerInfo,
) -> None:
    """The search also returns chats that merely mention the title, newest first: the exact one
    may be pages away (it used to be missed, and a duplicate chat made)."""
    with OuiClient(scripted_info) as client:
        wanted = client.create_chat("nb.ipynb")
        for i in range(5):  # newer, and all matching the search: 3 pages of 2 before it
            client.create_chat(f"questions about nb.ipynb #{i}")
        before = len(scripted.state.requests)
        assert client.find_chat("nb.ipynb")["id"] == wanted["id"]
        assert len(scripted.state.requests) - before == 3  # it read the third page
        assert client.find_chat("absent.ipynb") is None  # an empty page ends the lookup


async def test_the_async_client_reads_the_pages_too(scripted_info: ServerInfo) -> None:
    async with AsyncOuiClient(scripted_info) as client:
        wanted = await client.create_chat("nb.ipynb")
        for i in range(3):
            await client.create_chat(f"nb.ipynb, take {i}")
        assert (await client.find_chat("nb.ipynb"))["id"] == wanted["id"]
        assert await client.find_chat("absent.ipynb") is None


def test_streaming_turn_yields_deltas_then_the_message(
    scripted: ScriptedServer, scripted_info: ServerInfo
) -> None:
    with OuiClient(scripted_info) as client:
        chat = client.create_chat("t")
        turn = client.stream_message(
            chat["id"],
            "hi",
            model="smollm2",
            workspace=True,
            files=[{"type": "collection", "id": "kb-1"}],
        )
        pieces = list(turn)
        assert pieces == ["Hello", ", ", "world", "."]
        assert turn.message is not None and turn.message["content"] == "Hello, world."
        assert turn.message["sources"][0]["source"] == "src/data.py"
        body = scripted.state.chats[chat["id"]]["turns"][0]
        assert body == {
            "content": "hi",
            "stream": True,
            "model": "smollm2",
            "files": [{"type": "collection", "id": "kb-1"}],
            "features": {"workspace": True},
        }
        answer = client.send_message(chat["id"], "again")
        assert answer["content"] == "Hello, world." and answer["role"] == "assistant"


def test_unknown_model_in_a_turn_is_one_clear_error(scripted_info: ServerInfo) -> None:
    with OuiClient(scripted_info) as client:
        chat = client.create_chat("t")
        with pytest.raises(NotFound, match="Model ghost not found"):
            client.stream_message(chat["id"], "hi", model="ghost")


def test_search_hits_have_path_cell_lines_and_lab_links(scripted_info: ServerInfo) -> None:
    with OuiClient(scripted_info) as client:
        hits = client.search("loading data", k=2)
    assert len(hits) == 2
    assert hits[0].path == "nb/analysis 0.ipynb"
    assert hits[1].where == "cell 1, lines 1-4"
    assert hits[0].link == "/lab/tree/nb/analysis%200.ipynb"
    assert "loading data" in hits[0].snippet


def test_wrong_token_and_down_server_are_one_line_errors(scripted: ScriptedServer) -> None:
    with OuiClient(ServerInfo(url=scripted.url, token="wrong")) as client:
        with pytest.raises(AuthError, match=r"refused this kernel.*OUI_TOKEN") as caught:
            client.models()
        assert "wrong" not in str(caught.value)
    down = ServerInfo(url=f"http://127.0.0.1:{free_port()}/", token="x")
    with OuiClient(down) as client:
        with pytest.raises(
            ServerUnreachable, match="cannot reach the Jupyter server"
        ) as unreachable:
            client.models()
        assert "\n" not in str(unreachable.value)
        with pytest.raises(ServerUnreachable):
            client.stream_message("c", "hi")


async def test_async_client_same_api(scripted_info: ServerInfo) -> None:
    async with AsyncOuiClient(scripted_info) as client:
        assert [m["id"] for m in await client.models()] == ["smollm2", "other"]
        chat = await client.create_chat("async")
        turn = await client.stream_message(chat["id"], "hi")
        pieces = [piece async for piece in turn]
        assert "".join(pieces) == "Hello, world."
        assert turn.message["id"]
        assert (await client.find_chat("async"))["id"] == chat["id"]
        hits = await client.search("q", k=1)
        assert hits[0].cell == 0
        with pytest.raises(NotFound):
            await client.get_chat("missing")


def test_sse_parser_and_turn_accept_the_frames_we_may_meet() -> None:
    parser = SSEParser()
    assert parser.feed(": comment") is None
    assert parser.feed('data: {"a":') is None
    assert parser.feed("data: 1}") is None
    assert parser.feed("") == '{"a":\n1}'
    turn = Turn()
    assert turn._event('{"choices":[{"delta":{"content":"Hi"}}]}') == "Hi"
    assert turn._event('{"type":"chat:completion","data":{"content":"Hi there"}}') == " there"
    assert turn._event('{"id":"m1","role":"assistant","content":"Hi there!","done":true}') == "!"
    assert turn.message["id"] == "m1" and turn.done
    failed = Turn()
    failed._event('{"error":{"message":"model crashed"}}')
    assert failed.error == "model crashed"


def test_sources_in_both_shapes() -> None:
    server = ServerInfo(url="http://h/u/", token="")
    flat = [
        {"source": "a.py", "start_line": 1, "end_line": 5},
        {"source": "a.py", "start_line": 1, "end_line": 5},
    ]
    owui = [
        {
            "source": {"id": "workspace", "name": "workspace"},
            "document": ["x", "y"],
            "metadata": [{"source": "b.ipynb", "cell": 2}, {"source": "c.pdf", "page": 3}],
        }
    ]
    assert [(h.path, h.where) for h in normalise_sources(flat, server)] == [("a.py", "lines 1-5")]
    ours = [
        {
            "id": 1,
            "path": "nb.ipynb",
            "cell": 4,
            "start_line": 2,
            "end_line": 3,
            "snippet": "df.head()",
            "source": {"id": "workspace", "name": "workspace"},
            "document": ["df.head()"],
            "metadata": [{"source": "nb.ipynb", "cell": 4}],
        }
    ]
    (hit,) = normalise_sources(ours, server)
    assert (hit.path, hit.where, hit.snippet) == ("nb.ipynb", "cell 4, lines 2-3", "df.head()")
    hits = normalise_sources(owui, server)
    assert [(h.path, h.where, h.link) for h in hits] == [
        ("b.ipynb", "cell 2", "/u/lab/tree/b.ipynb"),
        ("c.pdf", "page 3", "/u/lab/tree/c.pdf"),
    ]


def test_a_server_without_the_extension_is_named_in_one_line() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Plain(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/oui/api/v1/knowledge"):
                self.send_response(302)
                self.send_header("Location", "/login")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"<html>not found</html>" if "models" in self.path else b"<html>hello</html>"
            self.send_response(404 if "models" in self.path else 200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        server = ServerInfo(url=f"http://127.0.0.1:{httpd.server_address[1]}/", token="t")
        with OuiClient(server) as client:
            with pytest.raises(
                NotFound, match=r"/oui/api/models does not exist on .*extension enabled"
            ):
                client.models()
            with pytest.raises(OuiError, match="redirected to /login"):
                client.knowledge()
            with pytest.raises(
                OuiError, match="answered /oui/api/version with text/html, not JSON"
            ):
                client.version()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_default_model_prefers_an_available_one_and_falls_back_to_the_first_listed() -> None:
    from oui_jupyter.notebook.client import default_model

    busy = {"id": "busy", "available": False}
    assert default_model([busy, {"id": "up"}]) == "up"
    # every connection was slow to list its models: still try the first (the server's answer
    # to the turn says whether it is really down)
    assert default_model([busy, {"id": "also-busy", "available": False}]) == "busy"
    assert default_model([]) is None


def test_quoted_magic_arguments_lose_their_quotes() -> None:
    from oui_jupyter.notebook.magics import _split_names, _unquote

    assert (
        _unquote("'my papers'") == "my papers" and _unquote('"x"') == "x" and _unquote("x'") == "x'"
    )
    assert _split_names(["a,b", "'c, d'", '"e"']) == ["a", "b", "c, d", "e"]
