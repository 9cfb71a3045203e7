"""Queue bookkeeping: idempotent adds, one ticket per character, order, requeue, waits."""

from __future__ import annotations

import pytest
from mm_fixtures import ARENA2, BATTLEGROUND, DUNGEON, WINDOW, Maker

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.errors import AlreadyQueued, InvalidInput, NotFound
from realmkit.matchmaking.queue import Queue
from realmkit.matchmaking.rules import (
    ActivityRules,
    Ticket,
    WindowSettings,
    roles_from_text,
    roles_to_text,
)


def dungeon_group(make: Maker, at: float = 0.0) -> list[Ticket]:
    return [
        make.ticket(roles=["tank"], at=at),
        make.ticket(roles=["healer"], at=at + 1),
        *(make.ticket(roles=["damage"], at=at + 2 + i) for i in range(3)),
    ]


def test_adding_the_same_ticket_twice_is_a_no_op() -> None:
    """A second add of a queued ticket_id changes nothing and says so."""
    q, make = Queue(DUNGEON, WINDOW), Maker()
    t = make.ticket(roles=["tank"])
    assert q.add(t) is True
    assert q.add(t) is False
    assert len(q) == 1
    assert q.position(t.ticket_id) == 1


def test_a_character_queued_under_another_ticket_is_refused() -> None:
    """AlreadyQueued carries the character, the activity and the ticket holding it."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    party = make.ticket(3)
    q.add(party)
    solo = Ticket(ticket_id=99, members=(party.members[1],), levels=(60,))
    with pytest.raises(AlreadyQueued) as info:
        q.add(solo)
    assert info.value.character_id == party.members[1]
    assert info.value.activity == "battleground"
    assert info.value.ticket_id == party.ticket_id
    assert 99 not in q


def test_removing_frees_the_characters() -> None:
    """remove returns the ticket (None the second time) and its members may queue again."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    t = make.ticket(2)
    q.add(t)
    assert q.remove(t.ticket_id) == t
    assert q.remove(t.ticket_id) is None
    assert len(q) == 0
    assert t.ticket_id not in q
    q.add(Ticket(ticket_id=50, members=t.members, levels=t.levels))
    assert 50 in q


def test_position_follows_queued_at_then_ticket_id() -> None:
    """Positions are 1-based in (queued_at, ticket_id) order, whatever the add order."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    late, early, tie = make.ticket(at=5.0), make.ticket(at=1.0), make.ticket(at=5.0)
    for t in (tie, late, early):
        q.add(t)
    assert [q.position(t.ticket_id) for t in (early, late, tie)] == [1, 2, 3]
    assert [t.ticket_id for t in q] == [early.ticket_id, late.ticket_id, tie.ticket_id]
    assert q.position(12345) is None


def test_requeue_puts_a_ticket_back_at_its_old_position() -> None:
    """A removed ticket requeued comes back in front of tickets that queued after it."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    a, b, c = (make.ticket(at=float(i)) for i in range(3))
    for t in (a, b, c):
        q.add(t)
    q.remove(b.ticket_id)
    q.add(make.ticket(at=10.0))
    assert q.requeue([b]) == 1
    assert q.position(b.ticket_id) == 2


def test_the_rest_of_a_declined_match_goes_back_before_newer_tickets() -> None:
    """After a dungeon group is declined by one member, the others are first in line again."""
    q, make = Queue(DUNGEON, WINDOW), Maker()
    group = dungeon_group(make)
    for t in group:
        q.add(t)
    (match,) = q.match(10.0)
    assert len(q) == 0
    newcomer = make.ticket(roles=["tank"], at=11.0)
    q.add(newcomer)
    decliner, *others = match.tickets()
    q.requeue(others)
    assert [q.position(t.ticket_id) for t in others] == [1, 2, 3, 4]
    assert q.position(newcomer.ticket_id) == 5
    assert decliner.ticket_id not in q


def test_requeue_is_all_or_nothing() -> None:
    """A batch with one conflicting ticket adds none of them."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    holder = make.ticket()
    q.add(holder)
    ok = make.ticket()
    clash = Ticket(ticket_id=77, members=(holder.members[0],), levels=(1,))
    with pytest.raises(AlreadyQueued):
        q.requeue([ok, clash])
    assert ok.ticket_id not in q
    assert len(q) == 1


def test_requeue_refuses_a_character_twice_in_one_batch() -> None:
    """Two tickets of one batch sharing a character are refused."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    a = make.ticket()
    b = Ticket(ticket_id=500, members=a.members, levels=(1,))
    with pytest.raises(AlreadyQueued):
        q.requeue([a, b])
    assert len(q) == 0


@pytest.mark.parametrize(
    ("rules", "ticket"),
    [
        (BATTLEGROUND, Ticket(ticket_id=1, members=tuple(range(11)), levels=(1,) * 11)),
        (ARENA2, Ticket(ticket_id=1, members=(1, 2, 3), levels=(1, 1, 1))),
        (DUNGEON, Ticket(ticket_id=1, members=tuple(range(6)), levels=(1,) * 6)),
        (
            DUNGEON,
            Ticket(
                ticket_id=1, members=(1, 2), levels=(1, 1), roles=roles_from_text(["tank", "tank"])
            ),
        ),
        (DUNGEON, Ticket(ticket_id=1, members=(1,), levels=(1,), roles=(frozenset({"mage"}),))),
        (DUNGEON, Ticket(ticket_id=1, members=(1, 2), levels=(1,))),
        (DUNGEON, Ticket(ticket_id=1, members=(1, 1), levels=(1, 1))),
        (DUNGEON, Ticket(ticket_id=1, members=(), levels=())),
    ],
    ids=[
        "bg-party-11",
        "arena-party-3",
        "dungeon-party-6",
        "two-tanks",
        "unknown-role",
        "levels",
        "twice",
        "empty",
    ],
)
def test_tickets_that_can_never_match_are_refused(rules: ActivityRules, ticket: Ticket) -> None:
    """Oversized parties, impossible roles and malformed tickets raise InvalidInput."""
    q = Queue(rules, WINDOW)
    with pytest.raises(InvalidInput):
        q.add(ticket)
    assert len(q) == 0


def test_estimated_wait_uses_the_default_then_recent_waits() -> None:
    """Before any match the default is used; afterwards the average of actual waits."""
    q, make = Queue(DUNGEON, WINDOW, default_wait=60.0, smoothing=1.0), Maker()
    first = make.ticket(roles=["tank"], at=100.0)
    q.add(first)
    assert q.estimated_wait(first.ticket_id, 120.0) == 40.0
    for t in dungeon_group(make, at=101.0)[1:]:
        q.add(t)
    assert q.match(110.0)
    # smoothing=1.0: the average is the last matched ticket's wait (queued at 105).
    assert q.average_wait == pytest.approx(5.0)
    late = make.ticket(roles=["healer"], at=111.0)
    q.add(late)
    assert q.estimated_wait(late.ticket_id, 112.0) == pytest.approx(4.0)
    assert q.estimated_wait(late.ticket_id, 130.0) == 0.0
    with pytest.raises(NotFound):
        q.estimated_wait(9999, 0.0)


def test_window_widens_with_waiting_up_to_the_maximum() -> None:
    """width = start + widen * waited, clamped to [start, maximum]."""
    w = WindowSettings(start=100, widen_per_second=10, maximum=1000)
    assert [w.width(s) for s in (-5, 0, 30, 90, 500)] == [100, 100, 400, 1000, 1000]


def test_rules_from_the_classic_pack() -> None:
    """from_activity takes team sizes and dungeon roles from the pack, key and rated as given."""
    acts = {
        a.kind + str(a.teams[0].size): a for a in load_pack(classic_pack_path()).activities.values()
    }
    dungeon = ActivityRules.from_activity(acts["dungeon5"], key="dungeon", rated=False)
    assert dungeon.team_sizes == (5,)
    assert dungeon.team_roles == {"tank": 1, "healer": 1, "damage": 3}
    bg = ActivityRules.from_activity(acts["battleground10"], key="battleground", rated=False)
    assert (bg.kind, bg.team_sizes, bg.team_roles) == ("battleground", (10, 10), {})
    arena = ActivityRules.from_activity(acts["arena3"], key="arena3v3", rated=True)
    assert (arena.key, arena.team_sizes, arena.rated) == ("arena3v3", (3, 3), True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "dungeon", "team_sizes": (5,), "team_roles": {"tank": 1, "damage": 3}},
        {"kind": "dungeon", "team_sizes": (5, 5)},
        {"kind": "arena", "team_sizes": (2, 3)},
        {"kind": "battleground", "team_sizes": (10,)},
        {"kind": "battleground", "team_sizes": (10, 0)},
        {"kind": "arena", "team_sizes": (2, 2), "team_roles": {"tank": 2}},
    ],
)
def test_inconsistent_rules_are_refused(kwargs: dict[str, object]) -> None:
    """Role counts off the team size, single-team arenas and the like raise InvalidInput."""
    with pytest.raises(InvalidInput):
        ActivityRules(key="x", **kwargs)  # type: ignore[arg-type]


def test_roles_round_trip_through_their_text_form() -> None:
    """roles_to_text/roles_from_text keep every member's set; "" means any."""
    roles = (frozenset({"tank", "damage"}), frozenset(), frozenset({"healer"}))
    assert roles_to_text(roles) == ["damage|tank", "", "healer"]
    assert roles_from_text(roles_to_text(roles)) == roles
