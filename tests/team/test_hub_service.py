"""The oui team service behind a real JupyterHub: who is who, and what the service refuses."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.hub import (
    EXAMPLE_CONFIG,
    HUB_ADMIN,
    JUPYTERHUB,
    OUI_ONLY_ADMIN,
    TEAM_KEY,
    Hub,
    http,
    process_environ,
)
from support.oui_process import stop_process


def test_roles_and_groups_come_from_the_hub(hub: Hub) -> None:
    hub.create_users("erin")
    hub.add_group("analysts", "erin")
    roles = {
        user: hub.service_api(user, "v1/users/user").json()
        for user in ("alice", "bob", HUB_ADMIN, OUI_ONLY_ADMIN, "erin")
    }
    assert {user: info["role"] for user, info in roles.items()} == {
        "alice": "user",
        "bob": "user",
        HUB_ADMIN: "admin",  # a hub admin (the example reads OUI_HUB_ADMINS into admin_users)
        OUI_ONLY_ADMIN: "admin",  # in the service's OUI_HUB_ADMINS only, not a hub admin
        "erin": "user",
    }
    assert hub.user_model(OUI_ONLY_ADMIN)["admin"] is False
    assert roles["erin"]["groups"] == ["analysts"]
    assert roles["alice"]["id"] == "alice"


def test_owning_a_server_makes_no_one_admin(hub: Hub) -> None:
    hub.spawn("alice")
    hub.spawn(HUB_ADMIN)
    mine = hub.user_api("alice", "v1/users/user")
    assert mine.status == 200, mine.text
    assert mine.json()["role"] == "user"
    theirs = hub.user_api(HUB_ADMIN, "v1/users/user")
    assert theirs.json()["role"] == "admin"


def test_a_user_servers_own_token_acts_as_its_user_in_the_service(hub: Hub) -> None:
    """$JUPYTERHUB_API_TOKEN of a user's server (what the team client sends) reaches the
    service as that user, with their groups (looked up by the service: that token cannot read them).
    A user the service has not seen yet: it keeps what it looked up for a while."""
    hub.create_users("gina")
    hub.add_group("readers", "gina")
    hub.spawn("gina")
    env = process_environ(hub.server_pid("gina"))
    token = env["JUPYTERHUB_API_TOKEN"]
    assert env["OUI_TEAM_URL"] == hub.service_url
    me = hub.service_api(None, "v1/users/user", token=token)
    assert me.status == 200, me.text
    assert me.json()["id"] == "gina"
    assert me.json()["role"] == "user"
    assert "readers" in me.json()["groups"]
    # and at the service's internal address, as the team client calls it
    direct = http(
        "GET",
        f"{hub.service_url}oui/api/v1/users/user",
        headers={"Authorization": f"token {token}"},
    )
    assert direct.status == 200, direct.text
    assert direct.json()["id"] == "gina"
    # a hub admin's server token: her admin flag is looked up too
    hub.spawn(HUB_ADMIN)
    admin_token = process_environ(hub.server_pid(HUB_ADMIN))["JUPYTERHUB_API_TOKEN"]
    theirs = hub.service_api(None, "v1/users/user", token=admin_token)
    assert theirs.status == 200, theirs.text
    assert (theirs.json()["id"], theirs.json()["role"]) == (HUB_ADMIN, "admin")


def test_every_user_lists_the_team_models(hub: Hub) -> None:
    for user in ("alice", "bob", HUB_ADMIN):
        listed = hub.service_api(user, "models")
        assert listed.status == 200, listed.text
        ids = {model["id"] for model in listed.json()["data"]}
        assert {"fast", "slow"} <= ids, (user, ids)
        assert TEAM_KEY not in listed.text


def test_only_admins_change_the_connections(hub: Hub) -> None:
    refused = hub.service_api(
        "alice",
        "v1/openai/config/update",
        "POST",
        {"OPENAI_API_BASE_URLS": ["http://127.0.0.1:9/v1"], "OPENAI_API_KEYS": ["x"]},
    )
    assert refused.status == 403, refused.text
    assert hub.service_api("alice", "v1/openai/config").status == 403
    current = hub.service_api(HUB_ADMIN, "v1/openai/config")
    assert current.status == 200, current.text
    assert TEAM_KEY not in current.text  # redacted even for admins
    assert current.json()["OPENAI_API_BASE_URLS"] == [hub.upstream]
    saved = hub.service_api(HUB_ADMIN, "v1/openai/config/update", "POST", current.json())
    assert saved.status == 200, saved.text
    assert saved.json()["OPENAI_API_BASE_URLS"] == [hub.upstream]
    # the stored key stayed the team's: completions still reach the upstream with it
    listed = hub.service_api("bob", "models").json()["data"]
    assert any(model["id"] == "fast" for model in listed)


def test_the_service_refuses_requests_without_a_hub_token(hub: Hub) -> None:
    assert hub.service_api(None, "v1/users/user").status in (401, 403)
    assert hub.service_api(None, "v1/users/user", token="not-a-hub-token").status in (401, 403)
    # a real token of alice's, but without access to the service
    narrow = hub.token_for("alice", scopes=["read:users:name!user"])
    refused = hub.service_api(None, "v1/users/user", token=narrow)
    assert refused.status == 403, refused.text
    assert hub.service_api(None, "models", token=narrow).status == 403


def test_the_services_jupyter_apis_are_refused(hub: Hub) -> None:
    for method, path in [
        ("GET", "api/contents"),
        ("GET", "api/kernels"),
        ("POST", "api/kernels"),
        ("GET", "api/sessions"),
        ("GET", "api/kernelspecs"),
    ]:
        for user in ("alice", HUB_ADMIN):
            answer = hub.request(
                user, f"/services/oui/{path}", method, {} if method == "POST" else None
            )
            assert answer.status == 403, (user, method, path, answer.status, answer.text[:200])
    terminals = hub.request(HUB_ADMIN, "/services/oui/api/terminals", "POST", {})
    assert terminals.status in (403, 404)


def test_a_websocket_may_carry_its_token_in_the_url(hub: Hub) -> None:
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    base = hub.url.replace("http://", "ws://") + "/services/oui/oui/api/events"

    async def ping(url: str) -> Any:
        conn = await websocket_connect(HTTPRequest(url, request_timeout=30))
        try:
            await conn.write_message(json.dumps({"type": "ping"}))
            return json.loads(await asyncio.wait_for(conn.read_message(), 30))
        finally:
            conn.close()

    assert asyncio.run(ping(f"{base}?token={hub.token_for('alice')}")) == {"type": "pong"}
    try:
        asyncio.run(ping(f"{base}?token=not-a-hub-token"))
    except HTTPClientError as exc:
        assert exc.code in (401, 403)
    else:
        raise AssertionError("a WebSocket with a bad token was accepted")


def test_the_service_restarts_on_the_same_database(hub: Hub) -> None:
    created = hub.service_api("bob", "v1/chats/new", "POST", {"chat": {"title": "kept"}})
    assert created.status == 200, created.text
    chat_id = created.json()["id"]
    hub.stop_service()
    down = hub.service_api("bob", f"v1/chats/{chat_id}")
    assert down.status in (502, 503), down.status  # the proxy: nothing behind the route
    hub.start_service()
    again = hub.service_api("bob", f"v1/chats/{chat_id}")
    assert again.status == 200, again.text
    assert again.json()["title"] == "kept"
    # another process on the same database and hub credentials serves the same chats
    replica, url = hub.start_replica()
    try:
        seen = http(
            "GET",
            f"{url}oui/api/v1/chats/{chat_id}",
            headers={"Authorization": f"token {hub.token_for('bob')}"},
        )
        assert seen.status == 200, seen.text
        assert seen.json()["title"] == "kept"
        assert http("GET", f"{url}oui/api/v1/chats/{chat_id}").status in (401, 403)
    finally:
        stop_process(replica)


def test_the_team_embeds_with_one_model(hub: Hub) -> None:
    answer = hub.service_api(
        "alice", "v1/embeddings", "POST", {"input": ["penguins", "seabirds"]}, timeout=240
    )
    assert answer.status == 200, answer.text
    body = answer.json()
    assert body["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert [len(item["embedding"]) for item in body["data"]] == [384, 384]


def test_the_service_needs_its_database_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUI_", "JUPYTERHUB_"))}
    done = subprocess.run(
        [sys.executable, "-m", "oui_jupyter.team"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "OUI_TEAM_DATABASE_URL is not set" in done.stderr


def test_the_example_hub_needs_the_team_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUI_", "JUPYTERHUB_"))}
    done = subprocess.run(
        [str(JUPYTERHUB), "-f", str(EXAMPLE_CONFIG)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "OUI_TEAM_DATABASE_URL is not set" in done.stderr
    assert not (tmp_path / "jupyterhub.sqlite").exists()  # it stopped before starting
