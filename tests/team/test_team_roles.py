"""Roles in team mode (the oui service and user servers under a team hub), without a hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from oui_jupyter.app import OuiJupyter
from oui_jupyter.services.users import Identity, UserService
from oui_jupyter.store import migrate
from oui_jupyter.store.db import Database
from oui_jupyter.store.users import UserStore


def store(tmp_path: Path) -> UserStore:
    db = Database(f"sqlite:///{tmp_path / 'u.db'}")
    migrate.upgrade(db.engine)
    return UserStore(db)


def test_in_team_mode_owning_a_server_makes_no_one_admin(tmp_path: Path) -> None:
    users = UserService(store(tmp_path), {"dave"}, owner="alice", team=True)
    assert users.resolve(Identity(username="alice", hub_admin=False)).role == "user"
    assert users.resolve(Identity(username="alice")).role == "user"  # no hub flag: no admin
    assert users.resolve(Identity(username="carol", hub_admin=True)).role == "admin"
    assert users.resolve(Identity(username="dave", hub_admin=False)).role == "admin"
    assert users.store.get("alice").role == "user"


@pytest.mark.parametrize(
    ("mode", "alice", "dave", "erin"),
    [
        ("", "admin", "user", "admin"),  # single user: the owner; OUI_ADMIN_USERS
        ("service", "user", "admin", "user"),  # team: hub admins and hub_admins only
        ("client", "user", "admin", "user"),
    ],
)
def test_the_app_builds_the_roles_of_its_mode(
    tmp_path: Path, mode: str, alice: str, dave: str, erin: str
) -> None:
    app = OuiJupyter(team_mode=mode, hub_admins={"dave"}, admin_users={"erin"}, owner_name="alice")
    users = app._build_users(store(tmp_path))
    roles = {name: users.role_of(Identity(username=name)) for name in ("alice", "dave", "erin")}
    assert roles == {"alice": alice, "dave": dave, "erin": erin}
