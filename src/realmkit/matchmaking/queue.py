"""One activity's queue in one pool: tickets in order, matched by the activity's rules.

- Rule 1: queue order is ``(queued_at, ticket_id)``; a ticket put back with
  ``requeue`` keeps its ``queued_at`` and so its old position.
- Rule 2: a character is in at most one ticket of a queue (``AlreadyQueued``);
  adding a ticket already queued is a no-op.
- Rule 3: ``match`` takes every matched ticket out of the queue; each ticket
  is in at most one match.
- Rule 4: waits are estimated from the actual waits of matched tickets (an
  exponential moving average), ``default_wait`` before the first match.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from realmkit.errors import AlreadyQueued, NotFound
from realmkit.matchmaking.arena import ArenaMatcher
from realmkit.matchmaking.battleground import BattlegroundMatcher
from realmkit.matchmaking.dungeon import DungeonMatcher
from realmkit.matchmaking.rules import (
    ActivityRules,
    Match,
    Ticket,
    WindowSettings,
    check_ticket_shape,
)


class Matcher(Protocol):
    """The rules of one kind of activity."""

    def check(self, ticket: Ticket) -> None:
        """Raise ``InvalidInput`` if the ticket could never be matched."""

    def match(self, tickets: Sequence[Ticket], now: float) -> list[Match]:
        """Disjoint matches from ``tickets`` (queue order)."""
        ...


def matcher_for(rules: ActivityRules, window: WindowSettings) -> Matcher:
    """The matcher of ``rules.kind``."""
    if rules.kind == "arena":
        return ArenaMatcher(rules, window)
    if rules.kind == "battleground":
        return BattlegroundMatcher(rules)
    return DungeonMatcher(rules)


class Queue:
    """Tickets waiting for one activity; ``match(now)`` forms the groups."""

    def __init__(
        self,
        rules: ActivityRules,
        window: WindowSettings | None = None,
        *,
        default_wait: float = 60.0,
        smoothing: float = 0.05,
    ) -> None:
        self.rules = rules
        self.window = window or WindowSettings()
        self._matcher = matcher_for(rules, self.window)
        self._tickets: dict[int, Ticket] = {}
        self._order: list[tuple[float, int]] = []
        self._holder: dict[int, int] = {}  # character id -> ticket id
        self._wait = default_wait
        self._smoothing = smoothing

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def __iter__(self) -> Iterator[Ticket]:
        """Queued tickets, oldest first."""
        return (self._tickets[tid] for _, tid in self._order)

    def get(self, ticket_id: int) -> Ticket | None:
        """The queued ticket ``ticket_id``, if any."""
        return self._tickets.get(ticket_id)

    def check(self, ticket: Ticket) -> None:
        """``InvalidInput`` if ``ticket`` is malformed or could never be matched here."""
        check_ticket_shape(ticket)
        self._matcher.check(ticket)

    def add(self, ticket: Ticket) -> bool:
        """Queue ``ticket``; False if it is already queued (Rule 2).

        ``AlreadyQueued`` if a member is queued here under another ticket;
        ``InvalidInput`` if the ticket is malformed or its party cannot fit.
        """
        return self.requeue([ticket]) == 1

    def requeue(self, tickets: Iterable[Ticket]) -> int:
        """Queue tickets back at their old position (Rule 1); how many were added.

        All or nothing: checked first, then queued.
        """
        fresh: dict[int, Ticket] = {}
        claimed: dict[int, int] = {}
        for t in tickets:
            if t.ticket_id in self._tickets or t.ticket_id in fresh:
                continue
            self.check(t)
            for cid in t.members:
                holder = self._holder.get(cid, claimed.get(cid))
                if holder is not None and holder != t.ticket_id:
                    raise AlreadyQueued(cid, self.rules.key, ticket_id=holder)
                claimed[cid] = t.ticket_id
            fresh[t.ticket_id] = t
        for t in fresh.values():
            self._tickets[t.ticket_id] = t
            for cid in t.members:
                self._holder[cid] = t.ticket_id
            insort(self._order, (t.queued_at, t.ticket_id))
        return len(fresh)

    def remove(self, ticket_id: int) -> Ticket | None:
        """Take ``ticket_id`` out of the queue (left, or cancelled); None if not queued."""
        t = self._tickets.get(ticket_id)
        if t is None:
            return None
        self._drop(t)
        key = (t.queued_at, t.ticket_id)
        del self._order[bisect_left(self._order, key)]
        return t

    def match(self, now: float) -> list[Match]:
        """Form every match the rules allow at ``now``; matched tickets leave the queue."""
        tickets = [self._tickets[tid] for _, tid in self._order]
        matches = self._matcher.match(tickets, now)
        if matches:
            gone: set[int] = set()
            for m in matches:
                for t in m.tickets():
                    assert t.ticket_id not in gone, "a ticket in two matches"
                    gone.add(t.ticket_id)
                    self._drop(t)
                    self._wait += self._smoothing * (max(0.0, now - t.queued_at) - self._wait)
            self._order = [key for key in self._order if key[1] not in gone]
        return matches

    def position(self, ticket_id: int) -> int | None:
        """1-based place of ``ticket_id`` in queue order; None if not queued."""
        t = self._tickets.get(ticket_id)
        if t is None:
            return None
        return bisect_left(self._order, (t.queued_at, t.ticket_id)) + 1

    @property
    def average_wait(self) -> float:
        """Recent wait of matched tickets, in seconds (Rule 4)."""
        return self._wait

    def estimated_wait(self, ticket_id: int, now: float) -> float:
        """Seconds ``ticket_id`` may still wait: the average wait less what it has waited.

        0 once it has waited longer than the average. ``NotFound`` if not queued.
        """
        t = self._tickets.get(ticket_id)
        if t is None:
            raise NotFound("ticket", ticket_id)
        return max(0.0, self._wait - (now - t.queued_at))

    def _drop(self, t: Ticket) -> None:
        del self._tickets[t.ticket_id]
        for cid in t.members:
            if self._holder.get(cid) == t.ticket_id:
                del self._holder[cid]
