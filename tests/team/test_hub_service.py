"""The oui team service behind a real JupyterHub: who is who, and what the service refuses."""

from __future__ import annotations

from support.hub import HUB_ADMIN, OUI_ONLY_ADMIN, TEAM_KEY, Hub, http, process_environ


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
    """$JUPYTERHUB_API_TOKEN of alice's server (what the team client sends) reaches the
    service as alice, with her groups (looked up by the service: that token cannot read them)."""
    hub.add_group("readers", "alice")
    hub.spawn("alice")
    env = process_environ(hub.server_pid("alice"))
    token = env["JUPYTERHUB_API_TOKEN"]
    assert env["OUI_TEAM_URL"] == hub.service_url
    me = hub.service_api(None, "v1/users/user", token=token)
    assert me.status == 200, me.text
    assert me.json()["id"] == "alice"
    assert me.json()["role"] == "user"
    assert "readers" in me.json()["groups"]
    # and at the service's internal address, as the team client calls it
    direct = http(
        "GET",
        f"{hub.service_url}oui/api/v1/users/user",
        headers={"Authorization": f"token {token}"},
    )
    assert direct.status == 200, direct.text
    assert direct.json()["id"] == "alice"


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
