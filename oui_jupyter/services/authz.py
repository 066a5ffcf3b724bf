"""Who may do what: the one module that answers authorization questions.

A resource is anything with an owner ``user_id`` and, optionally, an Open WebUI-style
``access_control`` dict (``{"read": {"group_ids": [...], "user_ids": [...]}, "write":
{...}}``). Owners and admins may read and write what they own; what else a caller may read
is said by the caller of ``can_read`` (``public``: a shared collection, a custom model
without ``access_control``, as Open WebUI reads ``None``). Grants inside ``access_control``
are not honoured yet (``_granted``): the teams work fills them in here.

Chats, their tags and folders are their owner's only, admins included: their stores take
the owner's id as a filter. Stores never decide: services ask here and hand the stores
filters already decided (``list_scope``).
"""

from __future__ import annotations

from typing import Any, Protocol

from oui_jupyter.errors import Forbidden
from oui_jupyter.services.users import UserInfo


class Owned(Protocol):
    """What authorization reads of a resource."""

    @property
    def user_id(self) -> str: ...


def require_admin(user: UserInfo, message: str = "Only admins may do this") -> None:
    """Raise ``Forbidden`` (403) unless ``user`` is an admin."""
    if not user.is_admin:
        raise Forbidden(message)


def owns(user: UserInfo, resource: Owned) -> bool:
    return resource.user_id == user.id


def is_public(resource: Owned) -> bool:
    """Open WebUI's reading of ``access_control: None``: readable by every user."""
    return getattr(resource, "access_control", None) is None


def can_read(user: UserInfo, resource: Owned, *, public: bool = False) -> bool:
    """Admins, the owner, everyone when ``public``, and (later) the read grants."""
    if user.is_admin or owns(user, resource) or public:
        return True
    return _granted(user, _rule(resource, "read"))


def can_write(user: UserInfo, resource: Owned) -> bool:
    """Admins, the owner and (later) the write grants."""
    if user.is_admin or owns(user, resource):
        return True
    return _granted(user, _rule(resource, "write"))


def can_search(user: UserInfo, resource: Owned, *, public: bool = False) -> bool:
    """Whether a retrieval for ``user`` may search ``resource``: the owner's and the public
    ones only, admins included (an admin's chat turn does not pull in others' documents)."""
    return owns(user, resource) or public


def list_scope(user: UserInfo) -> str | None:
    """The owner id a listing of collections or uploads is limited to (with the public
    ones, where the listing has such); ``None``: everything (admins)."""
    return None if user.is_admin else user.id


def _rule(resource: Owned, action: str) -> Any:
    access = getattr(resource, "access_control", None)
    return access.get(action) if isinstance(access, dict) else None


def _granted(user: UserInfo, rule: Any) -> bool:
    """Whether an ``access_control`` rule (``{"group_ids", "user_ids"}``) lets ``user`` in.
    No grant is honoured today: only owners and admins (and public reads) get in."""
    return False
