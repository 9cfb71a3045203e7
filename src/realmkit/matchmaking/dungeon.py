"""Dungeon finder: one group of exact size with exact role counts (1 tank, 1 healer, 3 damage).

- Rule 1: every group has exactly the activity's role counts, and every
  member has a role it accepts (``rules.accepts``).
- Rule 2: parties (up to the group size) stay together; a party that no
  role assignment can fit (two tank-only players in a one-tank group) is
  refused when it queues.
- Rule 3: tickets are chosen oldest first (``slots.exact_groups``) over the
  role counts each party can cover, whichever member takes which role; the
  roles themselves are assigned afterwards by a small search.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from realmkit.errors import InvalidInput
from realmkit.matchmaking.rules import ANY, ActivityRules, Match, Ticket, accepts
from realmkit.matchmaking.slots import Options, SlotSpace, exact_groups


class DungeonMatcher:
    """Forms dungeon groups from tickets in queue order."""

    def __init__(self, rules: ActivityRules) -> None:
        self.rules = rules
        size = rules.team_sizes[0]
        if rules.team_roles:
            self.slots = tuple(sorted(rules.team_roles))
            caps = tuple(rules.team_roles[r] for r in self.slots)
        else:
            self.slots, caps = (ANY,), (size,)
        self.space = SlotSpace(caps)
        self._options: dict[tuple[int, tuple[frozenset[str], ...]], Options] = {}

    def check(self, ticket: Ticket) -> None:
        """``InvalidInput`` if the party can never form part of a group."""
        size = self.rules.team_sizes[0]
        if ticket.size > size:
            raise InvalidInput(
                "members", f"a party of {ticket.size} does not fit a group of {size}"
            )
        if not self.options(ticket):
            raise InvalidInput("roles", "no role assignment fits the party into a group")

    def options(self, ticket: Ticket) -> Options:
        """The role counts the party's members can cover together (cached per role sets)."""
        key = (ticket.size, ticket.roles)
        opts = self._options.get(key)
        if opts is None:
            caps = self.space.caps
            vectors: set[tuple[int, ...]] = set()
            for combo in product(*(self._slots_of(ticket, m) for m in range(ticket.size))):
                counts = [0] * len(caps)
                for slot in combo:
                    counts[slot] += 1
                if all(n <= c for n, c in zip(counts, caps, strict=True)):
                    vectors.add(tuple(counts))
            opts = tuple(self.space.option(v) for v in sorted(vectors))
            self._options[key] = opts
        return opts

    def _slots_of(self, ticket: Ticket, member: int) -> tuple[int, ...]:
        wanted = ticket.member_roles(member)
        return tuple(i for i, slot in enumerate(self.slots) if accepts(wanted, slot))

    def match(self, tickets: Sequence[Ticket], now: float) -> list[Match]:
        """Every group the queue (``tickets``, oldest first) can form; ``now`` is unused."""
        del now
        groups = exact_groups(self.space, [self.options(t) for t in tickets])
        matches = []
        for group in groups:
            chosen = tuple(tickets[i] for i in group)
            roles = self.assign(chosen) if self.rules.team_roles else {}
            matches.append(Match(activity=self.rules.key, teams=(chosen,), roles=roles))
        return matches

    def assign(self, chosen: Sequence[Ticket]) -> dict[int, str]:
        """A role per character that fills the role counts exactly (most constrained first)."""
        members = [(t.members[m], self._slots_of(t, m)) for t in chosen for m in range(t.size)]
        members.sort(key=lambda cm: len(cm[1]))
        room = list(self.space.caps)
        picked: list[int] = []

        def search(i: int) -> bool:
            if i == len(members):
                return True
            for slot in members[i][1]:
                if room[slot]:
                    room[slot] -= 1
                    picked.append(slot)
                    if search(i + 1):
                        return True
                    picked.pop()
                    room[slot] += 1
            return False

        if not search(0):  # pragma: no cover - exact_groups only forms fillable groups
            raise AssertionError("no role assignment for a chosen dungeon group")
        return {cid: self.slots[slot] for (cid, _), slot in zip(members, picked, strict=True)}
