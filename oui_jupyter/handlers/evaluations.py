"""``v1/evaluations/...``: ratings of answers (Open WebUI's feedback), the leaderboard and the
arena switch."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from oui_jupyter.handlers.base import Operation, OuiHandler
from oui_jupyter.handlers.chats import chat_lock
from oui_jupyter.schemas.evaluations import (
    EvaluationConfig,
    EvaluationConfigForm,
    FeedbackForm,
    FeedbackResponse,
    LeaderboardResponse,
)
from oui_jupyter.services.evaluations import EvaluationService

_RATING = (
    "Rate an answer of one of your chats (Open WebUI's feedback: thumbs `data.rating` 1 or -1, "
    "`data.details.rating` 1-10, `reason`, `comment`); the message's `annotation` and "
    "`feedbackId` are set too. 404: the message is not in one of your chats; 422: not an "
    "answer, `model_id` not its model, a `sibling_model_ids` entry no sibling's model"
)


class EvaluationHandler(OuiHandler):
    @property
    def evaluations(self) -> EvaluationService:
        return self.services.evaluations

    async def save(self, feedback_id: str | None) -> None:
        form = await self.off_loop(lambda: self.parse_body(FeedbackForm))
        evaluations = self.evaluations
        async with chat_lock(form.meta.chat_id):  # the message's extra is written too
            if feedback_id is None:
                await self.write_json_off_loop(lambda: evaluations.create(self.user, form))
            else:
                await self.write_json_off_loop(
                    lambda: evaluations.update(self.user, feedback_id, form)
                )


class FeedbackHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "post": Operation(
            f"{_RATING}. Rating a message again updates its rating",
            body=FeedbackForm,
            response=FeedbackResponse,
            statuses=(404, 409, 413),
        )
    }

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.save(None)


class FeedbackByIdHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "One of your ratings, with its snapshot (admins: anyone's)",
            response=FeedbackResponse,
            statuses=(404,),
        ),
        "post": Operation(
            f"Update one of your ratings. {_RATING}",
            body=FeedbackForm,
            response=FeedbackResponse,
            statuses=(404, 409, 413),
        ),
        "delete": Operation(
            "Delete a rating (yours; admins: anyone's); its message loses its annotation",
            response=bool,
            statuses=(404,),
        ),
    }

    @web.authenticated
    @authorized
    async def get(self, feedback_id: str) -> None:
        await self.write_json_off_loop(lambda: self.evaluations.get(self.user, feedback_id))

    @web.authenticated
    @authorized
    async def post(self, feedback_id: str) -> None:
        await self.save(feedback_id)

    @web.authenticated
    @authorized
    async def delete(self, feedback_id: str) -> None:
        evaluations = self.evaluations

        def delete() -> bool:
            evaluations.delete(self.user, feedback_id)
            return True

        await self.write_json_off_loop(delete)


class UserFeedbacksHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("Your ratings, newest first", response=list[FeedbackResponse])
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.evaluations.mine(self.user))


class AllFeedbacksHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Everyone's ratings with their authors, newest first (admins)",
            response=list[FeedbackResponse],
            statuses=(403,),
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.evaluations.everyone(self.user))


class FeedbacksHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "delete": Operation(
            "Delete every rating (admins); messages keep their annotations",
            response=bool,
            statuses=(403,),
        )
    }

    @web.authenticated
    @authorized
    async def delete(self) -> None:
        evaluations = self.evaluations

        def delete_all() -> bool:
            evaluations.delete_all(self.user)
            return True

        await self.write_json_off_loop(delete_all)


class LeaderboardHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation(
            "Per-model Elo (K = 32, from 1000) and win rate from every rating: arena and "
            "side-by-side answers are games against `sibling_model_ids`; thumbs on a lone "
            "answer count in win rate only",
            response=LeaderboardResponse,
        )
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(self.evaluations.leaderboard)


class EvaluationConfigHandler(EvaluationHandler):
    api: ClassVar[dict[str, Operation]] = {
        "get": Operation("The arena switch (admins)", response=EvaluationConfig, statuses=(403,)),
        "post": Operation(
            "Turn the arena model on or off (admins)",
            body=EvaluationConfigForm,
            response=EvaluationConfig,
            statuses=(403,),
        ),
    }

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.write_json_off_loop(lambda: self.evaluations.config(self.user))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        evaluations = self.evaluations
        await self.write_json_off_loop(
            lambda form: evaluations.set_config(self.user, form), body=EvaluationConfigForm
        )
