"""Bodies and answers of ``v1/evaluations/...`` (Open WebUI's feedback shapes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

MAX_COMMENT = 4000
MAX_REASON = 200
MAX_SIBLINGS = 16
MAX_TAGS = 16
#: the most bytes of a rating's ``snapshot`` (Open WebUI sends the chat); 413 past it
MAX_SNAPSHOT_BYTES = 1024 * 1024

Id = Annotated[str, msgspec.Meta(pattern=r"^[\w-]{1,64}$")]
ModelId = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class RatingDetails(msgspec.Struct):
    """The 1-10 rating of Open WebUI's feedback form."""

    rating: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None


class RatingData(msgspec.Struct):
    """``rating``: thumbs up (1) or down (-1); ``model_id``: the rated answer's model, which
    must be the message's; ``sibling_model_ids``: the models of the other answers to the same
    prompt it was compared with (each must be one of them)."""

    rating: Literal[1, -1]
    model_id: ModelId
    sibling_model_ids: Annotated[list[ModelId], msgspec.Meta(max_length=MAX_SIBLINGS)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] = ""
    comment: Annotated[str, msgspec.Meta(max_length=MAX_COMMENT)] = ""
    details: RatingDetails | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)] | None = None


class FeedbackMeta(msgspec.Struct):
    """The rated message: it must be in one of your chats (else 404)."""

    chat_id: Id
    message_id: Id
    arena: bool = False
    model_id: ModelId | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)] | None = None


class FeedbackForm(msgspec.Struct):
    type: Literal["rating"]
    data: RatingData
    meta: FeedbackMeta
    snapshot: dict[str, Any] | None = None


class FeedbackUser(msgspec.Struct):
    id: str
    name: str | None


class FeedbackResponse(msgspec.Struct, omit_defaults=True):
    id: str
    user_id: str
    version: int
    type: str
    data: dict[str, Any]
    meta: dict[str, Any]
    created_at: int
    updated_at: int
    snapshot: dict[str, Any] | None = None
    user: FeedbackUser | None = None


class LeaderboardEntry(msgspec.Struct):
    rank: int
    id: str
    rating: float
    won: int
    lost: int
    count: int
    win_rate: float | None


class LeaderboardResponse(msgspec.Struct):
    models: list[LeaderboardEntry]
    #: the ratings read (thumbs on any answer, arena or not)
    feedbacks: int
    k_factor: float
    initial_rating: float


class EvaluationConfig(msgspec.Struct):
    """Open WebUI's ``v1/evaluations/config`` (the arena switch)."""

    ENABLE_EVALUATION_ARENA_MODELS: bool


class EvaluationConfigForm(msgspec.Struct):
    ENABLE_EVALUATION_ARENA_MODELS: bool | None = None
