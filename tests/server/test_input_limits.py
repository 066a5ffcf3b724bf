"""Bad input is a 4xx everywhere (issue 13, point 5), on SQLite and PostgreSQL: deep JSON, NUL
characters, colliding collection keys, redacted keys, empty config updates, malformed ids."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.identity import User
from support import identity

from oui_jupyter.handlers.routes import ROUTES
from oui_jupyter.jsonlimits import MAX_JSON_DEPTH

pytestmark = pytest.mark.storage

NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
OPTIONAL_GROUP = re.compile(r"\(\?:[^()]*(?:\([^()]*\)[^()]*)*\)\?")
DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB: past Python's recursion limit once decoded
KEY = "sk-FAKEFAKEFAKE0123456789abcdef3210"


@pytest.fixture
def oui_extra_config(jp_root_dir: Path) -> dict[str, Any]:
    (jp_root_dir / "notes.md").write_text("# Notes\n\nAbout tubas.\n")
    return {
        "admin_users": {"alice"},
        "index_start_delay": 0.0,
        "local_model_enabled": False,
        # no embedding model to load: keyword search only
        "embedding_engine": "openai",
        "embedding_base_url": "http://127.0.0.1:9/v1",
        "openai_api_base_urls": ["http://127.0.0.1:9/v1"],
        "openai_api_keys": [KEY],
    }


@pytest.fixture
def colon_user(monkeypatch: pytest.MonkeyPatch) -> str:
    """A user whose id has a colon (``alice:x``): token ``alicex-token``."""
    monkeypatch.setitem(identity.TEST_USERS, "alicex-token", User(username="alice:x", name="AX"))
    return "alicex"


def body_routes() -> list[tuple[str, str]]:
    cases = []
    for pattern, handler in ROUTES:
        for verb, op in handler.api.items():
            if op.body is not None and op.body_type == "application/json":
                path = NAMED_GROUP.sub("x", OPTIONAL_GROUP.sub("", pattern)).replace("/?", "/")
                cases.append((verb.upper(), path))
    return cases


def test_every_json_body_route_is_listed():
    assert len(body_routes()) >= 21


# ----- nesting depth -----
@pytest.mark.parametrize(("method", "path"), body_routes())
async def test_json_nested_1000_deep_is_400_on_every_body_route(api, method, path):
    r = await api(method, path, raw=DEEP, params={"id": "x"})  # (a query some routes need)
    assert r.code == 400, (method, path, r.code, r.body[:200])
    assert f"nested deeper than {MAX_JSON_DEPTH}" in r.json()["message"]


async def test_depth_is_counted_outside_strings_only_and_saved_data_survives(api):
    chat = (await api("POST", "v1/chats/new", {"chat": {"title": "[" * 500}})).json()
    assert chat["title"] == "[" * 500  # brackets inside strings do not count
    params: dict[str, Any] = {}
    for _ in range(MAX_JSON_DEPTH - 3):  # with the body's and chat's own objects: the limit
        params = {"p": params}
    shallow = {"chat": {"title": "ok", "params": params}}
    assert (await api("POST", "v1/chats/new", shallow)).code == 200
    deep = b'{"chat": {"title": "gone", "params": ' + DEEP + b"}}"
    assert (await api("POST", f"v1/chats/{chat['id']}", raw=deep)).code == 400
    assert (await api("GET", f"v1/chats/{chat['id']}")).json()["title"] == "[" * 500


async def test_a_deep_websocket_frame_gets_an_error_frame_and_the_socket_stays(jp_ws_fetch):
    ws = await jp_ws_fetch("oui", "api", "events", headers={"Authorization": "token alice-token"})
    try:
        await ws.write_message(DEEP.decode())
        error = json.loads(await ws.read_message())
        assert error["type"] == "error" and "nested deeper" in error["data"]["message"]
        await ws.write_message('{"type": "ping"}')
        assert json.loads(await ws.read_message()) == {"type": "pong"}
    finally:
        ws.close()


# ----- NUL characters -----
NUL_BODIES = [
    ("POST", "v1/chats/new", {"chat": {"title": "a\u0000b"}}),
    ("POST", "v1/chats/import", [{"chat": {"title": "a\u0000b"}}]),
    ("POST", "v1/folders/", {"name": "a\u0000b"}),
    ("POST", "v1/knowledge/create", {"name": "a\u0000b"}),
    ("POST", "v1/knowledge/create", {"name": "k", "data": {"paths": ["notes\u0000.md"]}}),
    ("POST", "v1/models/create", {"id": "m", "name": "a\u0000b"}),
    ("POST", "v1/retrieval/process/text", {"name": "a\u0000b", "content": "text"}),
    ("POST", "v1/chats/tags", {"name": "a\u0000b"}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES)
async def test_nul_in_names_titles_and_paths_is_422_and_nothing_is_stored(api, method, path, body):
    r = await api(method, path, body)
    assert r.code == 422 and "NUL" in r.json()["message"], r.body
    assert (await api("GET", "v1/chats/")).json() == []
    assert (await api("GET", "v1/folders/")).json() == []
    assert (await api("GET", "v1/knowledge/")).json() == []


async def test_nul_in_a_chat_title_rename_tag_path_query_and_upload_is_422(api):
    chat = (await api("POST", "v1/chats/new", {"chat": {"title": "kept"}})).json()
    for path, body in [
        (f"v1/chats/{chat['id']}/title", {"title": "x\u0000"}),
        (f"v1/chats/{chat['id']}/tags", {"name": "x\u0000"}),
        (f"v1/chats/{chat['id']}/clone", {"title": "x\u0000"}),
        (f"v1/chats/{chat['id']}", {"chat": {"title": "x\u0000"}}),
    ]:
        r = await api("POST", path, body)
        assert r.code == 422, (path, r.body)
    assert (await api("GET", f"v1/chats/{chat['id']}")).json()["title"] == "kept"
    assert (await api("GET", "v1/chats/")).json()[0]["tags"] == []
    knowledge = (await api("POST", "v1/knowledge/create", {"name": "k"})).json()
    r = await api("POST", f"v1/knowledge/{knowledge['id']}/file/add", {"path": "notes\u0000.md"})
    assert r.code == 422
    r = await api("GET", "v1/chats/search", params={"text": "a\x00b"})
    assert r.code == 422
    boundary = "b0undary"
    upload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a\x00.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    r = await api(
        "POST",
        "v1/files/",
        raw=upload,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.code == 400 and "Invalid" in r.json()["message"]  # refused by the form parser
    assert (await api("GET", "v1/files/")).json() == []


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(api):
    r = await api("POST", "v1/chats/new", raw=rb'{"chat": {"title": "C:\\u0000"}}')
    assert r.code == 200 and r.json()["title"] == "C:\\u0000"


# ----- collection keys -----
async def test_private_collections_of_users_with_colons_do_not_collide(api, colon_user):
    # Unescaped, alice:x's "notes" and alice's "x:notes" were one key: user:alice:x:notes.
    texts = [(colon_user, "notes", "alice colon x"), ("alice", "x:notes", "plain alice")]
    for user, name, owner in texts:
        body = {"name": name, "content": f"the tuba belongs to {owner}", "collection_name": name}
        r = await api("POST", "v1/retrieval/process/text", body, user=user)
        assert r.code == 200, r.body
    for user, name, owner in texts:
        r = await api(
            "POST",
            "v1/retrieval/query/doc",
            {"collection_name": name, "query": "tuba", "mode": "keyword"},
            user=user,
        )
        assert r.code == 200, r.body
        assert [owner in doc for doc in r.json()["documents"][0]] == [True], (user, r.json())


def test_an_old_index_is_renamed_once_to_escaped_keys(tmp_path: Path):
    from oui_jupyter.services.retrieval.names import (
        PRIVATE_KEYS_MARKER,
        legacy_private_renames,
        private_collection,
    )
    from oui_jupyter.store.vector_store import ChunkIn, DuckDBVectorStore, FileRecord

    store = DuckDBVectorStore(str(tmp_path / "index.duckdb"))
    store.open()
    old = {"user:alice:x:notes": "of alice:x", "user:bob:notes": "of bob", "user:50%:n": "of 50%"}
    for collection, text in old.items():
        rec = FileRecord(
            collection=collection,
            source="s",
            size=1,
            mtime=0.0,
            sha256="h",
            file_type="text",
            n_chunks=1,
        )
        store.write_files([(rec, [ChunkIn(text=text, meta={"source": "s"})])])
    users = ["alice", "alice:x", "bob", "50%"]
    plan = lambda names: legacy_private_renames(names, users)  # noqa: E731
    renames = store.rename_collections_once(PRIVATE_KEYS_MARKER, plan)
    assert renames == {
        "user:alice:x:notes": private_collection("alice:x", "notes"),
        "user:50%:n": private_collection("50%", "n"),
    }
    assert store.rename_collections_once(PRIVATE_KEYS_MARKER, plan) == {}  # once
    assert private_collection("bob", "notes") == "user:bob:notes"  # plain ids keep their keys
    for user, name in [("alice:x", "notes"), ("bob", "notes"), ("50%", "n")]:
        assert [f.source for f in store.list_files(private_collection(user, name))] == ["s"], user
    store.close()


# ----- connection settings -----
async def settings(api: Any, jp_serverapp: Any) -> dict[str, Any]:
    """The connection settings as stored (keys in clear)."""
    await api("GET", "config")  # the services are built on first use
    runtime = jp_serverapp.web_app.settings["oui_runtime"]
    return runtime.services.models.settings()


async def test_a_redacted_key_with_a_new_url_keeps_the_stored_key(api, jp_serverapp):
    shown = (await api("GET", "v1/openai/config")).json()
    masked = shown["OPENAI_API_KEYS"][0]
    assert masked != KEY and "…" in masked
    new_url = "http://127.0.0.1:10/v1"
    r = await api("POST", "v1/openai/config/update", {**shown, "OPENAI_API_BASE_URLS": [new_url]})
    assert r.code == 200, r.body
    assert (await settings(api, jp_serverapp))["OPENAI_API_BASE_URLS"] == [new_url]
    assert (await settings(api, jp_serverapp))["OPENAI_API_KEYS"] == [KEY]  # its place's key


@pytest.mark.parametrize(
    "update",
    [
        # a second connection with the first one's mask: matches no key of its URL or place
        lambda shown: {
            **shown,
            "OPENAI_API_BASE_URLS": [*shown["OPENAI_API_BASE_URLS"], "http://127.0.0.1:11/v1"],
            "OPENAI_API_KEYS": [shown["OPENAI_API_KEYS"][0]] * 2,
        },
        # a mask that no stored key redacts to
        lambda shown: {**shown, "OPENAI_API_KEYS": ["sk-F…9999"]},
    ],
)
async def test_a_redacted_key_matching_no_stored_key_is_422_and_nothing_changes(
    api, jp_serverapp, update
):
    before = await settings(api, jp_serverapp)
    shown = (await api("GET", "v1/openai/config")).json()
    r = await api("POST", "v1/openai/config/update", update(shown))
    assert r.code == 422 and "redacted" in r.json()["message"], r.body
    assert (await settings(api, jp_serverapp)) == before


@pytest.mark.parametrize("body", [{}, {"unknown": 1}, {"openai": {"OPENAI_API_BASE_URLS": []}}])
async def test_a_config_update_naming_nothing_is_422_and_keeps_every_connection(
    api, jp_serverapp, body
):
    before = await settings(api, jp_serverapp)
    r = await api("POST", "v1/openai/config/update", body)
    assert r.code == 422 and "nothing to update" in r.json()["message"]
    assert (await settings(api, jp_serverapp)) == before and before["OPENAI_API_BASE_URLS"]
    before = (await api("GET", "v1/retrieval/config")).json()
    r = await api("POST", "v1/retrieval/config/update", {**body, "top_k": None})
    assert r.code == 422 and "nothing to update" in r.json()["message"]
    assert (await api("GET", "v1/retrieval/config")).json() == before


async def test_an_update_naming_one_field_keeps_the_others(api, jp_serverapp):
    before = await settings(api, jp_serverapp)
    r = await api("POST", "v1/openai/config/update", {"ENABLE_OPENAI_API": False})
    assert r.code == 200, r.body
    after = await settings(api, jp_serverapp)
    assert after == {**before, "ENABLE_OPENAI_API": False}


# ----- unknown routes and malformed ids -----
@pytest.mark.parametrize(
    "path",
    [
        "v1/chats/a.b",
        "v1/chats/" + "x" * 65,
        "v1/chats/%20",
        "v1/nope",
        "v1/folders/a%2Fb/update",
        "v1/knowledge/" + "%C3%A9",
        "v1/chats/x/unknown-verb",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_unknown_paths_and_malformed_ids_are_json_404(api, path, method):
    r = await api(method, path, {} if method == "POST" else None)
    assert r.code == 404, (method, path, r.code)
    assert r.headers["Content-Type"].startswith("application/json")
    assert "No route" in r.json()["message"]
    r = await api(
        method, path, {} if method == "POST" else None, user=None, headers={"Authorization": ""}
    )
    assert r.code in (401, 403)


async def test_openapi_states_the_id_pattern_the_409s_and_which_bodies_are_required(api):
    doc = (await api("GET", "openapi.json")).json()
    paths = doc["paths"]
    param = paths["/oui/api/v1/chats/{chat_id}"]["get"]["parameters"][0]
    assert param["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert "409" in paths["/oui/api/v1/folders/"]["post"]["responses"]
    assert "409" in paths["/oui/api/v1/models/create"]["post"]["responses"]
    assert paths["/oui/api/v1/chats/new"]["post"]["requestBody"]["required"] is True
    assert paths["/oui/api/v1/chats/{chat_id}/clone"]["post"]["requestBody"]["required"] is False
    add = paths["/oui/api/v1/knowledge/{knowledge_id}/file/add"]["post"]["requestBody"]
    assert add["required"] is True and {"file_id", "path"} == {
        rule["required"][0] for rule in add["content"]["application/json"]["schema"]["anyOf"]
    }
    messages = doc["components"]["schemas"]["ChatCompletionForm"]["properties"]["messages"]
    assert messages["items"]["required"] == ["role"]
    # Outside a chat (no chat_id, not Open WebUI's first turn) at least one message is needed.
    body = paths["/oui/api/chat/completions"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    rules = json.dumps(body)
    assert '"messages": {"minItems": 1}' in rules and '"parent_id": {"type": "null"}' in rules


async def test_what_the_schema_allows_the_server_takes(api):
    # 1.0 is an integer in JSON Schema: the server reads it as 1.
    r = await api(
        "POST",
        "v1/retrieval/query/doc",
        {"collection_name": "workspace", "query": "tuba", "k": 1.0, "mode": "keyword"},
    )
    assert r.code == 200, r.body
    r = await api(
        "POST",
        "v1/retrieval/query/doc",
        {"collection_name": "workspace", "query": "tuba", "k": 1.5, "mode": "keyword"},
    )
    assert r.code == 422
    chat = (await api("POST", "v1/chats/new", {"chat": {}})).json()
    assert (await api("POST", f"v1/chats/{chat['id']}/clone", raw=b"")).code == 200
    knowledge = (await api("POST", "v1/knowledge/create", {"name": "k"})).json()
    assert (await api("POST", f"v1/knowledge/{knowledge['id']}/file/add", {})).code == 422
    r = await api("POST", "chat/completions", {"model": "m", "messages": []})
    assert r.code == 422
