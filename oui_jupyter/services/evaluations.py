"""Ratings of answers, the leaderboard computed from them, and the arena.

A rating is Open WebUI's feedback: thumbs up or down on an assistant message of one's own
chat, with an optional 1-10 rating, reason and comment. Saving one also sets the message's
``annotation`` (and ``feedbackId``), so the chat and its exports carry it. One rating per
message: rating it again updates the rating.

The arena is a virtual model (``arena-model``): a turn asking it is answered by two
available models drawn at random, as two sibling answers marked ``arena: true`` with their
real models recorded; the sidebar shows them as "Model A" and "Model B" until one is rated.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from oui_jupyter.errors import InvalidInput, NotFound, PayloadTooLarge
from oui_jupyter.schemas.evaluations import (
    MAX_SNAPSHOT_BYTES,
    EvaluationConfig,
    EvaluationConfigForm,
    FeedbackForm,
    FeedbackResponse,
    FeedbackUser,
    LeaderboardEntry,
    LeaderboardResponse,
)
from oui_jupyter.services import authz, leaderboard

if TYPE_CHECKING:
    from oui_jupyter.services.users import UserInfo
    from oui_jupyter.store.feedback import FeedbackStore
    from oui_jupyter.store.orm import Feedback
    from oui_jupyter.store.users import ConfigStore

ARENA_MODEL_ID = "arena-model"
ARENA_MODEL_NAME = "Arena Model"
#: the admins' arena switch in the config store (the traitlet is its default)
ARENA_CONFIG_KEY = "evaluations.arena"
#: what an arena answer carries in its message (and its start event)
ARENA_MARK = {"arena": True}


def arena_entry() -> dict[str, Any]:
    """The arena as the model list shows it."""
    return {
        "id": ARENA_MODEL_ID,
        "name": ARENA_MODEL_NAME,
        "object": "model",
        "created": 0,
        "owned_by": "arena",
        "connection": None,
        "connection_type": "arena",
        "available": True,
        "arena": True,
        "info": {
            "meta": {
                "description": "Two models drawn at random answer side by side; their names "
                "show once you rate an answer."
            }
        },
        "tags": [{"name": "arena"}],
    }


def _candidates(entries: list[dict[str, Any]]) -> list[str]:
    ids = [e["id"] for e in entries if e.get("available") and e.get("id") != ARENA_MODEL_ID]
    return list(dict.fromkeys(ids))


class EvaluationService:
    def __init__(
        self,
        store: FeedbackStore,
        config_store: ConfigStore,
        *,
        arena_default: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config_store = config_store
        self.arena_default = arena_default
        self.rng = rng or random.SystemRandom()

    # ----- ratings -----
    def create(self, user: UserInfo, form: FeedbackForm) -> FeedbackResponse:
        return self._save(user, form, None)

    def update(self, user: UserInfo, feedback_id: str, form: FeedbackForm) -> FeedbackResponse:
        return self._save(user, form, feedback_id)

    def _save(
        self, user: UserInfo, form: FeedbackForm, feedback_id: str | None
    ) -> FeedbackResponse:
        meta, data = form.meta, form.data
        if form.snapshot is not None:
            size = len(msgspec.json.encode(form.snapshot))
            if size > MAX_SNAPSHOT_BYTES:
                raise PayloadTooLarge(
                    f"snapshot is {size} bytes; the limit is {MAX_SNAPSHOT_BYTES}"
                )
        rated = self.store.rated_message(meta.chat_id, user.id, meta.message_id)
        if rated.role != "assistant":
            raise InvalidInput("Only an assistant's answer can be rated")
        if rated.model and data.model_id != rated.model:
            raise InvalidInput(
                f"data.model_id is {data.model_id!r}, but the message was answered by "
                f"{rated.model!r}"
            )
        siblings = list(dict.fromkeys(data.sibling_model_ids or []))
        for sibling in siblings:
            if sibling not in rated.sibling_models:
                raise InvalidInput(
                    f"data.sibling_model_ids: {sibling!r} answered no other message to the "
                    "same prompt"
                )
        data_json = msgspec.to_builtins(data)
        data_json["sibling_model_ids"] = siblings or None
        meta_json = msgspec.to_builtins(meta)
        annotation = {
            k: data_json.get(k) for k in ("rating", "reason", "comment", "details", "tags")
        }
        row = self.store.save(
            user_id=user.id,
            chat_id=meta.chat_id,
            message_id=meta.message_id,
            new_id=str(uuid.uuid4()),
            type_=form.type,
            data=data_json,
            meta=meta_json,
            snapshot=form.snapshot,
            annotation=annotation,
            feedback_id=feedback_id,
        )
        return self._response(row)

    def get(self, user: UserInfo, feedback_id: str) -> FeedbackResponse:
        row = self.store.get(feedback_id, authz.list_scope(user))
        return self._response(row, snapshot=True)

    def mine(self, user: UserInfo) -> list[FeedbackResponse]:
        return [self._response(row) for row, _ in self.store.list(user.id)]

    def everyone(self, user: UserInfo) -> list[FeedbackResponse]:
        authz.require_admin(user, "Only admins may read everyone's feedback")
        return [
            self._response(row, user=FeedbackUser(id=row.user_id, name=name))
            for row, name in self.store.list(None)
        ]

    def delete(self, user: UserInfo, feedback_id: str) -> None:
        self.store.delete(feedback_id, authz.list_scope(user))

    def delete_all(self, user: UserInfo) -> int:
        authz.require_admin(user, "Only admins may delete every feedback")
        return self.store.delete_all()

    @staticmethod
    def _response(
        row: Feedback, *, snapshot: bool = False, user: FeedbackUser | None = None
    ) -> FeedbackResponse:
        return FeedbackResponse(
            id=row.id,
            user_id=row.user_id,
            version=row.version,
            type=row.type,
            data=row.data or {},
            meta=row.meta or {},
            created_at=int(row.created_at),
            updated_at=int(row.updated_at),
            snapshot=row.snapshot if snapshot else None,
            user=user,
        )

    # ----- the leaderboard -----
    def leaderboard(self) -> LeaderboardResponse:
        """Every rating counts (any user's): the table names models only. Its cost grows
        with the number of ratings: call it off the event loop."""
        count = 0

        def datas() -> Iterator[dict[str, Any]]:
            nonlocal count
            for rating in self.store.ratings():
                count += 1
                yield rating.data

        rows = leaderboard.table(leaderboard.compute(datas()))
        return LeaderboardResponse(
            models=[LeaderboardEntry(**row) for row in rows],
            feedbacks=count,
            k_factor=leaderboard.K_FACTOR,
            initial_rating=leaderboard.INITIAL_RATING,
        )

    # ----- the arena -----
    def arena_enabled(self) -> bool:
        value = self.config_store.get(ARENA_CONFIG_KEY)
        return self.arena_default if value is None else bool(value)

    def config(self, user: UserInfo) -> EvaluationConfig:
        authz.require_admin(user)
        return EvaluationConfig(ENABLE_EVALUATION_ARENA_MODELS=self.arena_enabled())

    def set_config(self, user: UserInfo, form: EvaluationConfigForm) -> EvaluationConfig:
        authz.require_admin(user)
        if form.ENABLE_EVALUATION_ARENA_MODELS is not None:
            self.config_store.set(ARENA_CONFIG_KEY, form.ENABLE_EVALUATION_ARENA_MODELS)
        return self.config(user)

    def with_arena(self, entries: list[dict[str, Any]], enabled: bool) -> list[dict[str, Any]]:
        """The model list, with the arena last when it is on and two models could answer."""
        if not enabled or len(_candidates(entries)) < 2:
            return entries
        return [*entries, arena_entry()]

    def arena_pair(self, entries: list[dict[str, Any]], enabled: bool) -> tuple[str, str]:
        """Two different available models, drawn at random, for one arena turn."""
        if not enabled:
            raise NotFound(
                f"Model {ARENA_MODEL_ID} not found: the arena is off "
                "(admins: ENABLE_EVALUATION_ARENA_MODELS)"
            )
        candidates = _candidates(entries)
        if len(candidates) < 2:
            raise InvalidInput("The arena needs at least two available models")
        first, second = self.rng.sample(candidates, 2)
        return first, second
