"""Arenas (2v2, 3v3): rated teams of exact size, matched within a widening rating window.

- Rule 1: a team is one ticket of exactly the team size, or smaller tickets
  combined to exactly that size; parties are never split.
- Rule 2 (the window): a match is built around an *anchor*, the oldest
  ticket not yet matched that can be. With ``w`` the anchor's window
  (``WindowSettings.width`` of the anchor's wait), the anchor's team mates
  are rated within ``w`` of the anchor, and every ticket of each other team
  within ``w`` of the anchor team's rating (member-weighted mean). So the
  teams' ratings differ by at most ``w``, the window of the longest-waiting
  side: a newcomer may be matched outside its own window by a team that has
  waited; its own window never holds a match back.
- Rule 3: oldest first: team mates and opponents are the oldest tickets
  that fit the window (the oldest first, then the oldest that completes).
- Rule 4: an unrated arena has no window (any ratings meet).

Free tickets are kept per party size in rating buckets, each oldest first,
so finding the oldest ticket in a rating range visits only the buckets the
range covers.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from realmkit.errors import InvalidInput
from realmkit.matchmaking.rules import ActivityRules, Match, Ticket, WindowSettings

BUCKET = 50
"""Rating points per bucket."""


class _Pool:
    """One matching pass's free tickets: by party size, rating bucket and age rank."""

    def __init__(self, tickets: Sequence[Ticket], team_size: int) -> None:
        self.tickets = tickets
        self.used = [False] * len(tickets)
        self.buckets: list[dict[int, list[int]]] = [{} for _ in range(team_size + 1)]
        for rank, t in enumerate(tickets):
            self.buckets[t.size].setdefault(t.rating // BUCKET, []).append(rank)
        self.keys = [sorted(b) for b in self.buckets]
        self.heads = [dict.fromkeys(b, 0) for b in self.buckets]

    def oldest(self, size: int, lo: float, hi: float, skip: set[int]) -> int | None:
        """Rank of the oldest free ticket of ``size`` rated in [lo, hi], not in ``skip``."""
        keys, buckets, heads = self.keys[size], self.buckets[size], self.heads[size]
        a = 0 if lo == -math.inf else bisect_left(keys, math.floor(lo) // BUCKET)
        b = len(keys) if hi == math.inf else bisect_right(keys, math.floor(hi) // BUCKET)
        used, tickets = self.used, self.tickets
        best: int | None = None
        for key in keys[a:b]:
            ranks = buckets[key]
            h = heads[key]
            while h < len(ranks) and used[ranks[h]]:
                h += 1
            heads[key] = h
            for j in range(h, len(ranks)):
                rank = ranks[j]
                if best is not None and rank >= best:
                    break
                if not used[rank] and rank not in skip and lo <= tickets[rank].rating <= hi:
                    best = rank
                    break
        return best

    def fill(self, need: int, lo: float, hi: float, skip: set[int]) -> list[int] | None:
        """Ranks of tickets adding up to ``need`` players in [lo, hi], oldest first."""
        if need == 0:
            return []
        found = (self.oldest(s, lo, hi, skip) for s in range(1, need + 1))
        for rank in sorted(r for r in found if r is not None):
            rest = self.fill(need - self.tickets[rank].size, lo, hi, skip | {rank})
            if rest is not None:
                return [rank, *rest]
        return None


def _rating(team: Sequence[Ticket]) -> float:
    return sum(t.rating * t.size for t in team) / sum(t.size for t in team)


class ArenaMatcher:
    """Forms arena matches from tickets in queue order."""

    def __init__(self, rules: ActivityRules, window: WindowSettings) -> None:
        self.rules = rules
        self.window = window
        self.team_size = rules.team_sizes[0]

    def check(self, ticket: Ticket) -> None:
        """``InvalidInput`` if the party is larger than a team."""
        if ticket.size > self.team_size:
            raise InvalidInput(
                "members", f"a party of {ticket.size} does not fit a team of {self.team_size}"
            )

    def width(self, ticket: Ticket, now: float) -> float:
        """The ticket's rating window at ``now`` (Rule 2; infinite when unrated)."""
        if not self.rules.rated:
            return math.inf
        return self.window.width(now - ticket.queued_at)

    def match(self, tickets: Sequence[Ticket], now: float) -> list[Match]:
        """Every match the queue (``tickets``, oldest first) can form at ``now``."""
        pool = _Pool(tickets, self.team_size)
        teams_per_match = len(self.rules.team_sizes)
        players_left = sum(t.size for t in tickets)
        matches: list[Match] = []
        for anchor, ticket in enumerate(tickets):
            if players_left < self.team_size * teams_per_match:
                break
            if pool.used[anchor]:
                continue
            w = self.width(ticket, now)
            taken = {anchor}
            mates = pool.fill(
                self.team_size - ticket.size, ticket.rating - w, ticket.rating + w, taken
            )
            if mates is None:
                continue
            teams = [[anchor, *mates]]
            taken.update(mates)
            center = _rating([tickets[r] for r in teams[0]])
            for _ in range(teams_per_match - 1):
                team = pool.fill(self.team_size, center - w, center + w, taken)
                if team is None:
                    break
                teams.append(team)
                taken.update(team)
            else:
                for rank in taken:
                    pool.used[rank] = True
                players_left -= self.team_size * teams_per_match
                matches.append(
                    Match(
                        activity=self.rules.key,
                        teams=tuple(tuple(tickets[r] for r in team) for team in teams),
                    )
                )
        return matches
