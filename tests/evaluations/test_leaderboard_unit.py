"""The leaderboard from a known set of ratings, against a calculation done by hand.

Standard Elo, K = 32, every model from 1000; E_A = 1 / (1 + 10 ** ((R_B - R_A) / 400)).

1. A rated up, sibling B: E_A = 0.5, A = 1000 + 32 * 0.5 = 1016, B = 984.
2. A rated up, sibling B: E_A = 1 / (1 + 10 ** (-32 / 400)) = 1 / (1 + 0.831764) = 0.545922;
   A = 1016 + 32 * 0.454078 = 1030.5305, B = 984 - 14.5305 = 969.4695.
3. B rated up, siblings A and C (two games, in that order):
   vs A: E_B = 1 / (1 + 10 ** (61.0610 / 400)) = 1 / (1 + 1.421191) = 0.413020;
         B = 969.4695 + 32 * 0.586980 = 988.2529, A = 1030.5305 - 18.7834 = 1011.7471;
   vs C: E_B = 1 / (1 + 10 ** (11.7471 / 400)) = 1 / (1 + 1.069961) = 0.483101;
         B = 988.2529 + 32 * 0.516899 = 1004.7936, C = 1000 - 16.5408 = 983.4592.
4. C rated down, no sibling: a loss for C, no Elo change.
5. D rated up, no sibling: a win for D, no Elo change (D stays at 1000).
6. A rating of 0 (not thumbs) and one without a model: ignored.

Wins and losses: A won 1, 2, lost 3 (2-1, 0.6667); B lost 1, 2, won both games of 3 (2-2,
0.5); C lost 3 and 4 (0-2, 0.0); D won 5 (1-0, 1.0).
"""

from __future__ import annotations

import pytest

from oui_jupyter.services import leaderboard

RATINGS = [
    {"rating": 1, "model_id": "A", "sibling_model_ids": ["B"]},
    {"rating": 1, "model_id": "A", "sibling_model_ids": ["B"]},
    {"rating": 1, "model_id": "B", "sibling_model_ids": ["A", "C"]},
    {"rating": -1, "model_id": "C"},
    {"rating": 1, "model_id": "D", "sibling_model_ids": []},
    {"rating": 0, "model_id": "A", "sibling_model_ids": ["B"]},
    {"rating": 1, "sibling_model_ids": ["B"]},
]


def test_elo_and_win_rates_match_the_hand_calculation() -> None:
    rows = {row["id"]: row for row in leaderboard.table(leaderboard.compute(RATINGS))}
    assert rows["A"]["rating"] == pytest.approx(1011.7471, abs=0.01)
    assert rows["B"]["rating"] == pytest.approx(1004.7936, abs=0.01)
    assert rows["D"]["rating"] == pytest.approx(1000.0)
    assert rows["C"]["rating"] == pytest.approx(983.4592, abs=0.01)
    assert [(rows[m]["won"], rows[m]["lost"], rows[m]["count"]) for m in "ABCD"] == [
        (2, 1, 3),
        (2, 2, 4),
        (0, 2, 2),
        (1, 0, 1),
    ]
    assert [rows[m]["win_rate"] for m in "ABCD"] == [pytest.approx(0.6667), 0.5, 0.0, 1.0]
    assert [row["id"] for row in sorted(rows.values(), key=lambda r: r["rank"])] == list("ABDC")
    # Elo moves points between players: the total stays 1000 per model that played a game.
    assert sum(rows[m]["rating"] for m in "ABC") == pytest.approx(3000.0, abs=0.01)


def test_the_first_game_is_plus_and_minus_sixteen() -> None:
    rows = leaderboard.table(leaderboard.compute(RATINGS[:1]))
    assert [(r["id"], r["rating"], r["win_rate"]) for r in rows] == [
        ("A", 1016.0, 1.0),
        ("B", 984.0, 0.0),
    ]


def test_a_sibling_named_twice_or_the_model_itself_is_one_game() -> None:
    stats = leaderboard.compute(
        [{"rating": -1, "model_id": "A", "sibling_model_ids": ["A", "B", "B"]}]
    )
    assert (stats["A"].rating, stats["B"].rating) == (984.0, 1016.0)
    assert (stats["A"].lost, stats["B"].won, stats["B"].count) == (1, 1, 1)


def test_no_ratings_no_rows() -> None:
    assert leaderboard.table(leaderboard.compute([])) == []
