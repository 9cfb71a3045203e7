"""Rules, tickets and match checks shared by the matchmaking tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from realmkit.matchmaking.rules import ActivityRules, Match, Ticket, WindowSettings, accepts

DUNGEON = ActivityRules(
    key="dungeon",
    kind="dungeon",
    team_sizes=(5,),
    team_roles={"tank": 1, "healer": 1, "damage": 3},
)
BATTLEGROUND = ActivityRules(key="battleground", kind="battleground", team_sizes=(10, 10))
ARENA2 = ActivityRules(key="arena2v2", kind="arena", team_sizes=(2, 2), rated=True)
ARENA3 = ActivityRules(key="arena3v3", kind="arena", team_sizes=(3, 3), rated=True)
WINDOW = WindowSettings(start=100, widen_per_second=10, maximum=1000)


class Maker:
    """Tickets with fresh ids and character ids."""

    def __init__(self) -> None:
        self.ticket_id = 0
        self.character = 1000

    def ticket(
        self,
        size: int = 1,
        *,
        at: float = 0.0,
        level: int | Iterable[int] = 60,
        rating: int = 1500,
        roles: Iterable[str | Iterable[str]] = (),
    ) -> Ticket:
        self.ticket_id += 1
        members = tuple(range(self.character, self.character + size))
        self.character += size
        levels = (level,) * size if isinstance(level, int) else tuple(level)
        role_sets = tuple(frozenset([r]) if isinstance(r, str) else frozenset(r) for r in roles)
        return Ticket(
            ticket_id=self.ticket_id,
            members=members,
            levels=levels,
            roles=role_sets,
            rating=rating,
            queued_at=at,
        )


def check_match(rules: ActivityRules, match: Match) -> None:
    """Assert what every match of ``rules`` must be: exact teams, whole parties, valid roles."""
    assert match.activity == rules.key
    assert tuple(sum(t.size for t in team) for team in match.teams) == rules.team_sizes
    ids = [t.ticket_id for t in match.tickets()]
    assert len(ids) == len(set(ids))
    if rules.team_roles:
        members = {c: t.member_roles(i) for t in match.tickets() for i, c in enumerate(t.members)}
        assert set(match.roles) == set(members)
        assert Counter(match.roles.values()) == Counter(rules.team_roles)
        for cid, role in match.roles.items():
            assert accepts(members[cid], role), (cid, role, members[cid])
    else:
        assert match.roles == {}


def level_sums(match: Match) -> list[int]:
    return [sum(sum(t.levels) for t in team) for team in match.teams]
