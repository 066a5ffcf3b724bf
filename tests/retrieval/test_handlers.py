"""The retrieval, knowledge and file routes through a real Jupyter server."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.polling import wait_indexed

from retrieval.helpers import make_workspace

pytestmark = pytest.mark.storage  # knowledge collections and uploads live in the SQL database


@pytest.fixture
def oui_extra_config(jp_root_dir: Path) -> dict[str, Any]:
    make_workspace(jp_root_dir)
    return {
        "admin_users": {"alice"},
        "index_start_delay": 0.0,
        "index_poll_interval": 0.3,
        "max_upload_size": 1024 * 1024,
        "index_max_file_size": 1024 * 1024,
    }


def multipart(filename: str, data: bytes, content_type: str = "text/plain") -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def test_status_and_workspace_query(api):
    st = await wait_indexed(api, files=7)
    assert st["chunks"] > 10 and st["skipped"] == {}
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {
            "collection_names": ["workspace"],
            "query": "emperor penguin dives",
            "k": 3,
            "mode": "keyword",
        },
    )
    assert r.code == 200
    body = r.json()
    meta = body["metadatas"][0][0]
    assert (
        meta["source"] == "analysis.ipynb"
        and meta["cell"] == 3
        and meta["cell_id"] == "emperor-cell"
    )
    assert body["retrievers"] == ["keyword"] and len(body["documents"][0]) == len(
        body["distances"][0]
    )
    r = await api(
        "POST",
        "v1/retrieval/query/doc",
        {
            "collection_name": "workspace",
            "query": "polygon perimeter",
            "mode": "keyword",
            "filter": {"file_type": "py"},
        },
    )
    assert {m["source"] for m in r.json()["metadatas"][0]} == {"src/geometry.py"}
    r = await api(
        "POST",
        "v1/retrieval/query/doc",
        {
            "collection_name": "workspace",
            "query": "penguin",
            "mode": "keyword",
            "filter": {"path": "data/*"},
        },
    )
    assert {m["source"] for m in r.json()["metadatas"][0]} == {"data/penguins.csv"}


async def test_bad_input_and_auth(api):
    r = await api("POST", "v1/retrieval/query/collection", {"collection_names": ["workspace"]})
    assert r.code == 422
    r = await api("POST", "v1/retrieval/query/collection", raw=b"{nope")
    assert r.code == 400
    r = await api("GET", "v1/retrieval/status", user=None, headers={"Authorization": "token wrong"})
    assert r.code == 403
    r = await api("POST", "v1/retrieval/config/update", {"top_k": 3}, user="bob")
    assert r.code == 403
    r = await api("POST", "v1/retrieval/config/update", {"top_k": 0})
    assert r.code == 422


async def test_config_roundtrip(api):
    r = await api("GET", "v1/retrieval/config")
    assert r.json()["chunk_size"] == 240 and r.json()["hybrid"] is True
    r = await api(
        "POST", "v1/retrieval/config/update", {"top_k": 7, "embedding_api_key": "sk-secret"}
    )
    assert r.code == 200 and r.json()["top_k"] == 7 and r.json()["embedding_api_key"] == "***"
    assert (await api("GET", "v1/retrieval/config")).json()["top_k"] == 7


async def test_process_text_then_query_it(api):
    r = await api(
        "POST",
        "v1/retrieval/process/text",
        {
            "name": "memo",
            "content": "The quarterly budget for the xylophone club is 300 euros.",
            "collection_name": "club-notes",
        },
    )
    assert r.code == 200 and r.json()["collection_name"] == "club-notes" and r.json()["chunks"] == 1
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": ["club-notes"], "query": "xylophone budget", "mode": "keyword"},
    )
    assert r.json()["documents"][0][0].startswith("The quarterly budget")
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": ["workspace"], "query": "xylophone", "mode": "keyword"},
    )
    assert r.json()["documents"] == [[]]
    # Bob's "club-notes" is his own: he neither reads nor overwrites alice's.
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": ["club-notes"], "query": "xylophone budget", "mode": "keyword"},
        user="bob",
    )
    assert r.code == 200 and r.json()["documents"] == [[]]
    r = await api(
        "POST",
        "v1/retrieval/process/text",
        {"name": "memo", "content": "Bob's club plays the tuba.", "collection_name": "club-notes"},
        user="bob",
    )
    assert r.code == 200
    r = await api(
        "POST",
        "v1/retrieval/query/doc",
        {"collection_name": "club-notes", "query": "xylophone budget", "mode": "keyword"},
    )
    assert r.json()["documents"][0][0].startswith("The quarterly budget")


async def test_upload_knowledge_and_ownership(api):
    await wait_indexed(api, files=7)
    body, headers = multipart("lab notes.md", b"# Lab\n\nThe centrifuge spins at 12000 rpm.\n")
    r = await api("POST", "v1/files/", raw=body, headers=headers)
    assert r.code == 200, r.body
    f = r.json()
    assert f["filename"] == "lab notes.md" and f["meta"]["size"] > 0
    fid = f["id"]
    deadline = time.monotonic() + 20
    while (st := (await api("GET", f"v1/files/{fid}/process/status")).json())[
        "status"
    ] == "pending":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert st["status"] == "completed" and st["chunks"] == 1
    content = await api("GET", f"v1/files/{fid}/content")
    assert content.body.startswith(b"# Lab")
    assert (await api("GET", f"v1/files/{fid}", user="bob")).code == 404

    r = await api("POST", "v1/knowledge/create", {"name": "Lab", "description": "lab stuff"})
    assert r.code == 200
    kid = r.json()["id"]
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"file_id": fid})
    assert [x["id"] for x in r.json()["files"]] == [fid]
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"path": "docs/README.md"})
    assert r.json()["data"]["paths"] == ["docs/README.md"]
    r = await api("POST", f"v1/knowledge/{kid}/file/add", {"path": "../etc/passwd"})
    assert r.code == 422

    q = {
        "collection_names": [kid],
        "query": "centrifuge rpm hydraulic dome",
        "k": 10,
        "mode": "keyword",
    }
    r = await api("POST", "v1/retrieval/query/collection", q)
    assert {m["source"] for m in r.json()["metadatas"][0]} == {"lab notes.md", "docs/README.md"}
    # bob cannot see alice's private collection, then can once shared (read-only)
    assert (await api("POST", "v1/retrieval/query/collection", q, user="bob")).code == 404
    assert (await api("GET", f"v1/knowledge/{kid}", user="bob")).code == 404
    assert kid not in [k["id"] for k in (await api("GET", "v1/knowledge/", user="bob")).json()]
    r = await api("POST", f"v1/knowledge/{kid}/update", {"shared": True})
    assert r.json()["shared"] is True
    assert (await api("POST", "v1/retrieval/query/collection", q, user="bob")).code == 200
    assert (await api("GET", f"v1/files/{fid}", user="bob")).code == 200
    assert (
        await api("POST", f"v1/knowledge/{kid}/update", {"name": "mine"}, user="bob")
    ).code == 403

    r = await api("POST", f"v1/knowledge/{kid}/file/remove", {"path": "docs/README.md"})
    assert r.json()["data"]["paths"] == []
    # deleting the upload removes its chunks and its place in the collection
    assert (await api("DELETE", f"v1/files/{fid}")).code == 200
    assert (await api("GET", f"v1/knowledge/{kid}")).json()["data"]["file_ids"] == []
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": [f"file-{fid}"], "query": "centrifuge", "mode": "keyword"},
    )
    assert r.code == 404
    assert (await api("DELETE", f"v1/knowledge/{kid}/delete")).json() is True
    assert (await api("GET", f"v1/knowledge/{kid}")).code == 404


async def test_upload_limits_and_unreadable(api):
    body, headers = multipart("big.txt", b"x" * (1024 * 1024 + 10))
    assert (await api("POST", "v1/files/", raw=body, headers=headers)).code == 413
    body, headers = multipart("blob.py", b"\x00\x01binary" * 10, "application/octet-stream")
    r = await api("POST", "v1/files/", raw=body, headers=headers)
    fid = r.json()["id"]
    deadline = time.monotonic() + 20
    while (st := (await api("GET", f"v1/files/{fid}/process/status")).json())[
        "status"
    ] == "pending":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert st["status"] == "failed" and "binary" in st["error"]
    r = await api("POST", "v1/retrieval/process/file", {"file_id": fid})
    assert r.code == 422
    assert (
        await api("POST", "v1/files/", raw=b"nothing", headers={"Content-Type": "text/plain"})
    ).code == 422


async def test_live_edit_through_contents_api(api, jp_fetch):
    await wait_indexed(api, files=7)
    model = {
        "type": "file",
        "format": "text",
        "content": "Saturn has a hexagonal storm at its pole.\n",
    }
    await jp_fetch(
        "api",
        "contents",
        "planets.md",
        method="PUT",
        body=json.dumps(model),
        headers={"Authorization": "token alice-token"},
    )
    deadline = time.monotonic() + 10
    while True:
        r = await api(
            "POST",
            "v1/retrieval/query/collection",
            {"collection_names": ["workspace"], "query": "hexagonal storm", "mode": "keyword"},
        )
        if r.json()["metadatas"][0]:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert r.json()["metadatas"][0][0]["source"] == "planets.md"
