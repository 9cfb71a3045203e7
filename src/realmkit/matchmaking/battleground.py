"""Battlegrounds: teams of exact size from whole parties, balanced by level then rating.

- Rule 1: every team is filled exactly; a party goes whole into one team and
  a party larger than every team is refused when it queues.
- Rule 2: tickets are chosen oldest first (``slots.exact_groups``): an older
  ticket is left out only if no exact split into teams exists with it.
- Rule 3: the chosen parties are dealt strongest first (level sum, then
  rating), each to the weakest team that still leaves an exact split for
  the rest; then equal-sized parties are swapped between the strongest and
  the weakest team while that narrows the gap. With solo players the level
  sums of two teams then differ by at most the gap between the highest and
  the lowest level in the match (no swap would narrow it further).
"""

from __future__ import annotations

from collections.abc import Sequence

from realmkit.errors import InvalidInput
from realmkit.matchmaking.rules import ActivityRules, Match, Ticket
from realmkit.matchmaking.slots import Options, SlotSpace, exact_groups

_SWAP_ROUNDS = 64


def _strength(t: Ticket) -> tuple[int, int]:
    return sum(t.levels), t.rating * len(t.members)


class BattlegroundMatcher:
    """Forms battleground matches from tickets in queue order."""

    def __init__(self, rules: ActivityRules) -> None:
        self.rules = rules
        self.space = SlotSpace(rules.team_sizes)
        self._options: dict[int, Options] = {}

    def check(self, ticket: Ticket) -> None:
        """``InvalidInput`` if the party can never fit a team."""
        if ticket.size > max(self.rules.team_sizes):
            raise InvalidInput(
                "members",
                f"a party of {ticket.size} does not fit a team of {max(self.rules.team_sizes)}",
            )

    def options(self, size: int) -> Options:
        """The ways a party of ``size`` can go: whole, into one team with room."""
        opts = self._options.get(size)
        if opts is None:
            k = len(self.rules.team_sizes)
            opts = tuple(
                self.space.option([size if j == team else 0 for j in range(k)])
                for team in range(k)
                if size <= self.rules.team_sizes[team]
            )
            self._options[size] = opts
        return opts

    def match(self, tickets: Sequence[Ticket], now: float) -> list[Match]:
        """Every match the queue (``tickets``, oldest first) can form; ``now`` is unused."""
        del now
        groups = exact_groups(self.space, [self.options(t.size) for t in tickets])
        return [
            Match(activity=self.rules.key, teams=self.deal([tickets[i] for i in group]))
            for group in groups
        ]

    def deal(self, chosen: Sequence[Ticket]) -> tuple[tuple[Ticket, ...], ...]:
        """Split tickets that fill the teams exactly into balanced teams (Rule 3)."""
        space, caps = self.space, self.rules.team_sizes
        k = len(caps)
        order = sorted(chosen, key=lambda t: (*(-x for x in _strength(t)), t.queued_at))
        reach = [0] * (len(order) + 1)
        reach[-1] = 1 << space.full
        for i in range(len(order) - 1, -1, -1):
            reach[i] = space.extend(reach[i + 1], self.options(order[i].size))
        teams: list[list[Ticket]] = [[] for _ in caps]
        fills = [0] * k
        sums = [(0, 0)] * k
        at = 0  # index of the fill vector so far
        for i, t in enumerate(order):
            for j in sorted(range(k), key=lambda j: (sums[j], j)):
                nxt = at + t.size * space.strides[j]
                # A fill is only kept if the parties left can complete it exactly.
                if fills[j] + t.size <= caps[j] and reach[i + 1] >> nxt & 1:
                    break
            else:  # pragma: no cover - exact_groups chose a set that fills exactly
                raise AssertionError("no exact split for a chosen battleground group")
            at = nxt
            teams[j].append(t)
            fills[j] += t.size
            s = _strength(t)
            sums[j] = (sums[j][0] + s[0], sums[j][1] + s[1])
        _narrow(teams)
        return tuple(
            tuple(sorted(team, key=lambda t: (t.queued_at, t.ticket_id))) for team in teams
        )


def _narrow(teams: list[list[Ticket]]) -> None:
    """Swap equal-sized parties between the strongest and weakest team while the
    (level gap, rating gap) shrinks."""
    for _ in range(_SWAP_ROUNDS):
        sums = [
            (sum(_strength(t)[0] for t in team), sum(_strength(t)[1] for t in team))
            for team in teams
        ]
        hi = max(range(len(teams)), key=lambda j: sums[j])
        lo = min(range(len(teams)), key=lambda j: sums[j])
        dl, dr = sums[hi][0] - sums[lo][0], sums[hi][1] - sums[lo][1]
        best = (abs(dl), abs(dr))
        swap: tuple[int, int] | None = None
        for a, ta in enumerate(teams[hi]):
            sa = _strength(ta)
            for b, tb in enumerate(teams[lo]):
                if ta.size != tb.size:
                    continue
                sb = _strength(tb)
                gap = (abs(dl - 2 * (sa[0] - sb[0])), abs(dr - 2 * (sa[1] - sb[1])))
                if gap < best:
                    best, swap = gap, (a, b)
        if swap is None:
            return
        a, b = swap
        teams[hi][a], teams[lo][b] = teams[lo][b], teams[hi][a]
