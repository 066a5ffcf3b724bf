"""Who may do what: the one module that answers authorization questions.

A resource is anything with an owner ``user_id`` and, optionally, an Open WebUI-style
``access_control`` dict (``{"read": {"group_ids": [...], "user_ids": [...]}, "write":
{...}}``). Owners and admins may read and write what they own; what else a caller may read
is said by the caller of ``can_read`` (``public``: a shared collection, a custom model
without ``access_control``, as Open WebUI reads ``None``). Grants inside ``access_control``
let the users they name (``user_ids``) and the members of the groups they name
(``group_ids``, the hub's groups) in; a write grant is also a read grant. ``{}`` grants
nothing: the resource is its owner's (and admins'). ``access_control`` itself is checked
here (``validate_access_control``) before a service stores it.

Chats, their tags and folders are their owner's only, admins included: their stores take
the owner's id as a filter. Stores never decide: services ask here and hand the stores
filters already decided (``list_scope``).
"""

from __future__ import annotations

from typing import Any, Protocol

from oui_jupyter.errors import Forbidden, InvalidInput
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
    """Admins, the owner, everyone when ``public``, and the read (or write) grants."""
    if user.is_admin or owns(user, resource) or public:
        return True
    return is_granted(user, resource)


def can_write(user: UserInfo, resource: Owned) -> bool:
    """Admins, the owner and the write grants."""
    if user.is_admin or owns(user, resource):
        return True
    return _granted(user, _rule(resource, "write"))


def can_manage(user: UserInfo, resource: Owned) -> bool:
    """Who may change who else has access (``access_control``, ``shared``) and delete the
    resource: admins and the owner, not the holders of a write grant."""
    return user.is_admin or owns(user, resource)


def can_search(user: UserInfo, resource: Owned, *, public: bool = False) -> bool:
    """Whether a retrieval for ``user`` may search ``resource``: the owner's, the public
    ones and those granted to the user or their groups; not by being an admin (an admin's
    chat turn does not pull in others' documents)."""
    return owns(user, resource) or public or is_granted(user, resource)


def can_use_tool(user: UserInfo, access_control: dict[str, Any] | None) -> bool:
    """Whether ``user`` may use a tool with this ``access_control`` (tools have no owner):
    ``None`` is everyone's; otherwise admins and the read (or write) grants."""
    if access_control is None or user.is_admin:
        return True
    return _granted(user, access_control.get("read")) or _granted(user, access_control.get("write"))


def can_undo_turn(user: UserInfo, checkpoint: Owned) -> bool:
    """Whether ``user`` may undo an agent turn's notebook changes: its chat's owner only,
    admins included (chats are their owner's)."""
    return owns(user, checkpoint)


def can_use_tool_channel(user_id: str, owner_id: str) -> bool:
    """Whether the user ``user_id`` may poll or answer a tool channel (``tools/channel.py``)
    opened by ``owner_id``: its opener only, admins not included (its calls read the
    opener's files); to anyone else the channel does not exist."""
    return user_id == owner_id


def is_granted(user: UserInfo, resource: Owned) -> bool:
    """Whether ``access_control`` grants ``user`` reading (a read or a write grant)."""
    return _granted(user, _rule(resource, "read")) or _granted(user, _rule(resource, "write"))


def list_scope(user: UserInfo) -> str | None:
    """The owner id a listing of collections or uploads is limited to (with the public
    ones, and the granted ones where the listing has such: those the listing then keeps
    by ``can_read``); ``None``: everything (admins)."""
    return None if user.is_admin else user.id


# ----- the shape of ``access_control`` -----
#: the most user or group ids one rule may name, and the longest id
MAX_GRANTEES = 1000
MAX_ID_LENGTH = 255
_ACTIONS = ("read", "write")
_GRANTEES = ("group_ids", "user_ids")


def validate_access_control(value: Any) -> dict[str, Any] | None:
    """``access_control`` as it is stored: ``None`` (everyone), or ``{"read": {"group_ids":
    [...], "user_ids": [...]}, "write": {...}}`` with every key optional (``{}``: the owner
    only). Anything else is ``InvalidInput`` (422): unknown keys, ids that are not non-empty
    strings of at most 255 characters, more than 1,000 ids in a list."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("access_control must be null or an object with read/write")
    unknown = sorted(set(value) - set(_ACTIONS))
    if unknown:
        raise InvalidInput(f"access_control: unknown key {unknown[0]!r} (read, write)")
    clean: dict[str, Any] = {}
    for action in _ACTIONS:
        if action not in value or value[action] is None:
            continue
        rule = value[action]
        if not isinstance(rule, dict):
            raise InvalidInput(f"access_control.{action} must be an object")
        unknown = sorted(set(rule) - set(_GRANTEES))
        if unknown:
            raise InvalidInput(
                f"access_control.{action}: unknown key {unknown[0]!r} (group_ids, user_ids)"
            )
        clean[action] = {name: _ids(rule.get(name), f"{action}.{name}") for name in _GRANTEES}
    return clean


def _ids(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInput(f"access_control.{where} must be a list of ids")
    if len(raw) > MAX_GRANTEES:
        raise InvalidInput(f"access_control.{where} names {len(raw)} ids; at most {MAX_GRANTEES}")
    for item in raw:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_ID_LENGTH:
            raise InvalidInput(
                f"access_control.{where}: each id must be a string of 1-{MAX_ID_LENGTH} characters"
            )
    return list(dict.fromkeys(raw))


def _rule(resource: Owned, action: str) -> Any:
    access = getattr(resource, "access_control", None)
    return access.get(action) if isinstance(access, dict) else None


def _granted(user: UserInfo, rule: Any) -> bool:
    """Whether an ``access_control`` rule (``{"group_ids", "user_ids"}``) lets ``user`` in:
    they are named, or one of their groups is."""
    if not isinstance(rule, dict):
        return False
    user_ids = rule.get("user_ids")
    if isinstance(user_ids, list) and user.id in user_ids:
        return True
    group_ids = rule.get("group_ids")
    return isinstance(group_ids, list) and any(g in group_ids for g in user.groups)
