"""Per-model Elo and win rate from ratings (Open WebUI's leaderboard rule).

Each rating of an answer by model A (``data.model_id``) scores A ``s = 1`` (thumbs up,
``rating: 1``) or ``s = 0`` (thumbs down, ``rating: -1``):

* against each other model B named in ``data.sibling_model_ids`` (the arena's, or the
  other answers to the same prompt) it is one game: with A's and B's ratings before it,
  ``E_A = 1 / (1 + 10 ** ((R_B - R_A) / 400))``, ``R_A += K (s - E_A)`` and
  ``R_B += K ((1 - s) - (1 - E_A))``; A counts a win (``s = 1``) or a loss, B the other;
* with no sibling it is a win or a loss of A alone: its win rate moves, its Elo does not
  (there is no opponent to take the points from).

Games are played in the ratings' creation order; every model starts at 1000, ``K = 32``.
``win_rate = won / (won + lost)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

K_FACTOR = 32.0
INITIAL_RATING = 1000.0


@dataclass
class ModelStats:
    rating: float = INITIAL_RATING
    won: int = 0
    lost: int = 0

    @property
    def count(self) -> int:
        return self.won + self.lost


def expected_score(rating: float, opponent: float) -> float:
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def _outcome(data: dict[str, Any]) -> float | None:
    rating = data.get("rating")
    if isinstance(rating, bool):
        return None
    if rating in (1, "1"):
        return 1.0
    if rating in (-1, "-1"):
        return 0.0
    return None


def compute(ratings: Iterable[dict[str, Any]]) -> dict[str, ModelStats]:
    """Every model's stats from ratings' ``data``, in the order given."""
    stats: dict[str, ModelStats] = {}
    for data in ratings:
        model = data.get("model_id")
        score = _outcome(data)
        if not isinstance(model, str) or not model or score is None:
            continue
        a = stats.setdefault(model, ModelStats())
        siblings = data.get("sibling_model_ids") or []
        opponents = list(
            dict.fromkeys(s for s in siblings if isinstance(s, str) and s and s != model)
        )
        if not opponents:
            if score:
                a.won += 1
            else:
                a.lost += 1
            continue
        for name in opponents:
            b = stats.setdefault(name, ModelStats())
            expected = expected_score(a.rating, b.rating)
            a.rating += K_FACTOR * (score - expected)
            b.rating += K_FACTOR * ((1.0 - score) - (1.0 - expected))
            if score:
                a.won, b.lost = a.won + 1, b.lost + 1
            else:
                a.lost, b.won = a.lost + 1, b.won + 1
    return stats


def table(stats: dict[str, ModelStats]) -> list[dict[str, Any]]:
    """The leaderboard rows, best Elo first (then most games, then id), ranked from 1."""
    ordered = sorted(stats.items(), key=lambda item: (-item[1].rating, -item[1].count, item[0]))
    return [
        {
            "rank": rank,
            "id": model,
            "rating": round(s.rating, 2),
            "won": s.won,
            "lost": s.lost,
            "count": s.count,
            "win_rate": round(s.won / s.count, 4) if s.count else None,
        }
        for rank, (model, s) in enumerate(ordered, start=1)
    ]
