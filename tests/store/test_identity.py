"""Roles from Jupyter's identity: the owner, admin_users, JupyterHub's admin flag and groups."""

from __future__ import annotations

from jupyter_server.auth.identity import User
from sqlalchemy.orm import Session

from oui_jupyter.services.users import Identity, UserService, identity_from_jupyter
from oui_jupyter.store import migrate
from oui_jupyter.store.db import Database
from oui_jupyter.store.orm import User as UserRow
from oui_jupyter.store.users import UserStore


class HubUser(User):
    """What JupyterHub's identity provider hands a single-user server."""

    def __init__(self, username: str, hub_user: dict) -> None:
        super().__init__(username=username)
        self.hub_user = hub_user


def service(tmp_path, owner, admins=()):
    db = Database(f"sqlite:///{tmp_path / 'u.db'}")
    migrate.upgrade(db.engine)
    return UserService(UserStore(db), set(admins), owner=owner)


def test_single_user_server_owner_is_admin(tmp_path):
    users = service(tmp_path, owner=None)
    info = users.resolve(identity_from_jupyter(User(username="me")))
    assert info.role == "admin"
    assert users.store.get("me").role == "admin"


def test_hub_reads_admin_flag_and_groups(tmp_path):
    users = service(tmp_path, owner="owner")
    guest = identity_from_jupyter(
        HubUser("guest", {"name": "guest", "admin": False, "groups": ["team-a"]})
    )
    assert guest.groups == ("team-a",) and guest.hub_admin is False
    assert users.resolve(guest).role == "user"
    boss = identity_from_jupyter(HubUser("boss", {"name": "boss", "admin": True, "groups": []}))
    assert users.resolve(boss).role == "admin"
    assert users.resolve(identity_from_jupyter(HubUser("owner", {"admin": False}))).role == "admin"
    assert users.store.get("guest").groups == ["team-a"]


def test_admin_users_setting(tmp_path):
    users = service(tmp_path, owner="owner", admins={"carol"})
    assert users.resolve(Identity(username="carol")).role == "admin"
    assert users.resolve(Identity(username="dave")).role == "user"


def test_user_row_made_once_and_refreshed_on_change(tmp_path):
    users = service(tmp_path, owner=None)
    users.resolve(Identity(username="eve", name="Eve"))
    first = users.store.get("eve")
    users.resolve(Identity(username="eve", name="Eve"))
    assert users.store.get("eve").last_active_at == first.last_active_at  # cached: no write
    users.resolve(Identity(username="eve", name="Eve Renamed"))
    assert users.store.get("eve").name == "Eve Renamed"
    assert len(users.store.list()) == 1


def test_two_first_requests_racing_to_create_a_user_both_succeed(tmp_path, monkeypatch):
    """The second creator finds the row only on commit (the other request made it between
    its read and its insert): it updates the row instead of failing."""
    store = service(tmp_path, owner="owner").store
    store.upsert("racer", name="Racer", display_name="Racer", role="user", groups=[])
    real_get = Session.get
    missed = []

    def get_before_the_other_commit(self, entity, ident, **kwargs):
        if entity is UserRow and not missed:
            missed.append(ident)
            return None  # what the loser of the race saw
        return real_get(self, entity, ident, **kwargs)

    monkeypatch.setattr(Session, "get", get_before_the_other_commit)
    row = store.upsert("racer", name="Racer 2", display_name="R2", role="admin", groups=["g"])
    assert missed == ["racer"] and row.role == "admin"
    assert store.get("racer").display_name == "R2" and len(store.list()) == 1
