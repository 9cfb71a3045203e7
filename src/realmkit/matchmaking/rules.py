"""What the matching rules work on: tickets, an activity's rules, rating windows, matches.

A ticket is one party queued together (a solo player is a party of one). It
is placed whole or not at all: parties are never split between teams or
groups. Queue order is ``(queued_at, ticket_id)``, oldest first.

Roles (dungeon finder): each member lists the roles it accepts among
``tank``, ``healer`` and ``damage``; an empty set (or ``any``) accepts every
role. A team slot named ``any`` takes any member.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import msgspec

from realmkit.errors import InvalidInput

if TYPE_CHECKING:
    from realmkit.content.schema import ActivityDef

ROLES: frozenset[str] = frozenset({"tank", "healer", "damage", "any"})
ANY = "any"
DEFAULT_RATING = 1500

Kind = Literal["battleground", "arena", "dungeon"]


class Ticket(msgspec.Struct, frozen=True):
    """One party in a queue; ``members[i]`` has ``levels[i]`` and accepts ``roles[i]``.

    ``roles`` may be empty (every member accepts any role); ``rating`` is the
    party's rating in this activity.
    """

    ticket_id: int
    members: tuple[int, ...]
    levels: tuple[int, ...]
    roles: tuple[frozenset[str], ...] = ()
    rating: int = DEFAULT_RATING
    queued_at: float = 0.0

    @property
    def size(self) -> int:
        """Number of players in the party."""
        return len(self.members)

    def member_roles(self, index: int) -> frozenset[str]:
        """Roles member ``index`` accepts; empty means any."""
        return self.roles[index] if self.roles else frozenset()


class WindowSettings(msgspec.Struct, frozen=True):
    """The rating window of rated queues: ``start`` wide, growing with time waited."""

    start: float = 100.0
    widen_per_second: float = 10.0
    maximum: float = 1000.0

    def width(self, waited: float) -> float:
        """Window (rating points either side) after ``waited`` seconds in the queue."""
        return min(self.maximum, self.start + self.widen_per_second * max(0.0, waited))


class ActivityRules(msgspec.Struct, frozen=True):
    """How one activity's queue forms groups.

    ``team_roles`` (dungeon only) is the role count of the one team and sums
    to its size; empty means no roles.
    """

    key: str
    kind: Kind
    team_sizes: tuple[int, ...]
    team_roles: dict[str, int] = {}
    rated: bool = False

    def __post_init__(self) -> None:
        if not self.team_sizes or min(self.team_sizes) < 1:
            raise InvalidInput("team_sizes", "at least one team of at least one player")
        if self.kind == "dungeon":
            if len(self.team_sizes) != 1:
                raise InvalidInput("team_sizes", "a dungeon group is one team")
            unknown = set(self.team_roles) - ROLES
            if unknown:
                raise InvalidInput("team_roles", f"unknown roles {sorted(unknown)}")
            if self.team_roles and sum(self.team_roles.values()) != self.team_sizes[0]:
                raise InvalidInput("team_roles", "role counts must add up to the team size")
        else:
            if len(self.team_sizes) < 2:
                raise InvalidInput("team_sizes", f"a {self.kind} needs at least two teams")
            if self.team_roles:
                raise InvalidInput("team_roles", "roles are for dungeon groups only")
        if self.kind == "arena" and len(set(self.team_sizes)) != 1:
            raise InvalidInput("team_sizes", "arena teams are all the same size")

    @classmethod
    def from_activity(cls, activity: ActivityDef, *, key: str, rated: bool) -> ActivityRules:
        """The rules of a content pack's activity, queued under ``key``."""
        roles: dict[str, int] = {r: n for r, n in activity.teams[0].roles.items() if n > 0}
        return cls(
            key=key,
            kind=activity.kind,
            team_sizes=tuple(t.size for t in activity.teams),
            team_roles=roles if activity.kind == "dungeon" else {},
            rated=rated,
        )


class Match(msgspec.Struct, frozen=True):
    """A group found by ``Queue.match``: its teams (tickets) and, for role-based
    activities, each character's role."""

    activity: str
    teams: tuple[tuple[Ticket, ...], ...]
    roles: dict[int, str] = {}

    def tickets(self) -> tuple[Ticket, ...]:
        """Every ticket of the match, team by team."""
        return tuple(t for team in self.teams for t in team)

    def team_members(self) -> list[list[int]]:
        """Character ids per team (the ``matchmaking.matches.teams`` column)."""
        return [[c for t in team for c in t.members] for team in self.teams]


def accepts(member_roles: frozenset[str], slot: str) -> bool:
    """Whether a member accepting ``member_roles`` may take a ``slot`` role."""
    return slot == ANY or not member_roles or ANY in member_roles or slot in member_roles


def check_ticket_shape(ticket: Ticket) -> None:
    """``InvalidInput`` unless the ticket's per-member fields line up."""
    n = len(ticket.members)
    if n == 0:
        raise InvalidInput("members", "a ticket has at least one member")
    if len(set(ticket.members)) != n:
        raise InvalidInput("members", "a character appears twice in one ticket")
    if len(ticket.levels) != n:
        raise InvalidInput("levels", "one level per member")
    if ticket.roles:
        if len(ticket.roles) != n:
            raise InvalidInput("roles", "one role set per member, or none at all")
        unknown = set().union(*ticket.roles) - ROLES
        if unknown:
            raise InvalidInput("roles", f"unknown roles {sorted(unknown)}")


def roles_from_text(values: Sequence[str]) -> tuple[frozenset[str], ...]:
    """Per-member role sets from their text form (``"tank|healer"``; ``""`` = any)."""
    return tuple(frozenset(r for r in v.split("|") if r) for v in values)


def roles_to_text(roles: Iterable[frozenset[str]]) -> list[str]:
    """The text form of per-member role sets, for ``matchmaking.tickets.roles``."""
    return ["|".join(sorted(r)) for r in roles]
