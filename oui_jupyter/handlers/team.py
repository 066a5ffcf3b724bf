"""Team routes for admins: users, groups, usage and the daily token limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.errors import NotReady
from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.schemas.core import UserResponse
from oui_jupyter.schemas.team import GroupResponse, UsageLimits, UsageQuery, UsageResponse
from oui_jupyter.services import directory

if TYPE_CHECKING:
    from oui_jupyter.services.usage import UsageService


class TeamHandler(OuiHandler):
    @property
    def usage(self) -> UsageService:
        usage = self.completions.usage
        if usage is None:
            raise NotReady("Usage is not recorded on this server")
        return usage


class UsersHandler(TeamHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Every user seen, with role, groups and last activity (admins)",
            response=list[UserResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(
            await self.off_loop(lambda: directory.list_users(self.user, self.users.store))
        )


class GroupsHandler(TeamHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Every group users were seen in, with its members (admins)",
            response=list[GroupResponse],
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(
            await self.off_loop(lambda: directory.list_groups(self.user, self.users.store))
        )


class UsageHandler(TeamHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Requests and prompt/completion tokens per user or per model since a time (admins)",
            query=UsageQuery,
            response=UsageResponse,
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(UsageQuery)
        self.write_json(
            await self.off_loop(lambda: self.usage.summary(self.user, query.since, query.group_by))
        )


class UsageLimitsHandler(TeamHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("The groups' daily token limits (admins)", response=UsageLimits),
        "post": Operation(
            "Replace the groups' daily token limits (admins)",
            body=UsageLimits,
            response=UsageLimits,
        ),
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(lambda: self.usage.limits_for(self.user)))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.parse_body(UsageLimits)
        raw = self.parse_json()
        self.write_json(await self.off_loop(lambda: self.usage.set_limits(self.user, raw)))
