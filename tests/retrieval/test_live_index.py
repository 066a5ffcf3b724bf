"""The live index in a running server: Jupyter's contents events re-index at once (polling
off here, so nothing else could have noticed), and progress reaches the user's socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chat.helpers import frames_until
from support.polling import eventually

from retrieval.helpers import make_workspace


@pytest.fixture
def oui_extra_config(jp_root_dir: Path) -> dict[str, Any]:
    make_workspace(jp_root_dir)
    return {"index_start_delay": 0.0, "index_poll_interval": 0.0}  # 0: no polling at all


async def keyword_sources(api: Any, query: str) -> list[str]:
    r = await api(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": ["workspace"], "query": query, "mode": "keyword"},
    )
    assert r.code == 200, r.body
    return [m["source"] for m in r.json()["metadatas"][0]]


async def index_counts(api: Any) -> tuple[int, int]:
    """(files indexed, files in the workspace) as the status reports them."""
    status = (await api("GET", "v1/retrieval/status")).json()
    return status["files"], status["files_total"]


async def put_file(jp_fetch: Any, path: str, content: str) -> None:
    model = {"type": "file", "format": "text", "content": content}
    await jp_fetch(
        "api",
        "contents",
        path,
        method="PUT",
        body=json.dumps(model),
        headers={"Authorization": "token alice-token"},
    )


async def test_progress_frames_reach_the_socket_and_contents_events_reindex(
    api, jp_fetch, jp_ws_fetch
):
    ws = await jp_ws_fetch("oui", "api", "events", headers={"Authorization": "token alice-token"})
    try:
        # Connecting is a use of oui: the index opens and reports its first scan.
        frames = await frames_until(
            ws,
            lambda f: (
                f["type"] == "index:progress"
                and f["data"]["state"] == "idle"
                and f["data"]["files_total"] > 0
            ),
        )
        progress = [f["data"] for f in frames if f["type"] == "index:progress"]
        assert progress[-1]["files_done"] == progress[-1]["files_total"] >= 7
        assert {"chunks_total", "chunks_embedded", "skipped"} <= set(progress[-1])
        files = progress[-1]["files_total"]

        async def counts_are(expected: int) -> bool:
            return await index_counts(api) == (expected, expected)

        # A save through Jupyter: searchable with no poll.
        await put_file(jp_fetch, "docs/saturn.md", "Saturn has a hexagonal storm at its pole.\n")
        assert await eventually(lambda: _has(api, "hexagonal storm", "docs/saturn.md"))
        assert await eventually(lambda: counts_are(files + 1))
        # A rename through Jupyter: found under the new name only.
        await jp_fetch(
            "api",
            "contents",
            "docs/saturn.md",
            method="PATCH",
            body=json.dumps({"path": "docs/planets.md"}),
            headers={"Authorization": "token alice-token"},
        )
        assert await eventually(lambda: _only(api, "hexagonal storm", "docs/planets.md"))
        assert await eventually(
            lambda: counts_are(files + 1)
        )  # the live count, not files ever seen
        # A delete through Jupyter: gone.
        await jp_fetch(
            "api",
            "contents",
            "docs/planets.md",
            method="DELETE",
            headers={"Authorization": "token alice-token"},
        )
        assert await eventually(lambda: _none(api, "hexagonal storm"))
        assert await eventually(lambda: counts_are(files))
        # The socket heard about the changes too.
        frames = await frames_until(
            ws, lambda f: f["type"] == "index:progress" and f["data"]["state"] == "idle"
        )
        assert frames[-1]["data"]["files_done"] == frames[-1]["data"]["files_total"]
    finally:
        ws.close()


async def test_bob_sees_progress_but_not_alices_chats(api, jp_ws_fetch):
    """Index progress is news about the shared workspace: every socket gets it."""
    ws = await jp_ws_fetch("oui", "api", "events", headers={"Authorization": "token bob-token"})
    try:
        frames = await frames_until(ws, lambda f: f["type"] == "index:progress")
        assert all("chat_id" not in f for f in frames)
    finally:
        ws.close()


async def _has(api: Any, query: str, source: str) -> bool:
    return source in await keyword_sources(api, query)


async def _only(api: Any, query: str, source: str) -> bool:
    return await keyword_sources(api, query) == [source]


async def _none(api: Any, query: str) -> bool:
    return await keyword_sources(api, query) == []
