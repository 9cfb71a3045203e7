"""Rated results: new ratings from a match's teams and its winner (Elo).

Each team's strength is the average rating of its members; every member of a
team moves by the same amount, ``K * (score - expected)`` against the average
of the other teams. A draw (no winner) scores 0.5, so it moves ratings toward
each other. Ratings stay within 0..10,000 (the schema's bounds).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

ELO_K = 32
MIN_RATING, MAX_RATING = 0, 10_000


class RatingChange(msgspec.Struct, frozen=True):
    character_id: int
    rating: int
    won: bool


def new_ratings(
    teams: Sequence[Sequence[int]], ratings: dict[int, int], winner: int | None
) -> list[RatingChange]:
    """Every member's new rating after ``winner`` (1-based team; None: a draw) won."""
    averages = [sum(ratings[c] for c in team) / len(team) for team in teams]
    changes = []
    for index, team in enumerate(teams, start=1):
        others = [a for i, a in enumerate(averages, start=1) if i != index]
        opponent = sum(others) / len(others)
        expected = 1 / (1 + 10 ** ((opponent - averages[index - 1]) / 400))
        score = 0.5 if winner is None else float(winner == index)
        delta = round(ELO_K * (score - expected))
        for c in team:
            rating = min(MAX_RATING, max(MIN_RATING, ratings[c] + delta))
            changes.append(RatingChange(c, rating, winner == index))
    return changes
