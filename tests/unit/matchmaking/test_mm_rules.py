"""Matching rules: battleground balance and parties, arena windows, dungeon roles, oldest first."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mm_fixtures import (
    ARENA2,
    ARENA3,
    BATTLEGROUND,
    DUNGEON,
    WINDOW,
    Maker,
    check_match,
    level_sums,
)

from realmkit.errors import InvalidInput
from realmkit.matchmaking.queue import Queue
from realmkit.matchmaking.rules import ActivityRules, Ticket

ROLE_SETS = st.sampled_from(
    [
        (),
        ("tank",),
        ("healer",),
        ("damage",),
        ("tank", "damage"),
        ("healer", "damage"),
        ("tank", "healer"),
    ]
)

# --- battleground ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(levels=st.lists(st.integers(1, 60), min_size=20, max_size=70))
def test_solo_battleground_teams_are_level_balanced(levels: list[int]) -> None:
    """Solo queues: teams of exactly 10, level sums within the match's level spread."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    for i, level in enumerate(levels):
        q.add(make.ticket(level=level, at=float(i)))
    matches = q.match(100.0)
    assert len(matches) == len(levels) // 20
    for m in matches:
        check_match(BATTLEGROUND, m)
        lv = [t.levels[0] for t in m.tickets()]
        a, b = level_sums(m)
        assert abs(a - b) <= max(lv) - min(lv)


def test_balance_beats_queue_order() -> None:
    """Ten level-60 and ten level-10 solos, queued strong first, split 5 and 5 per team."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    for i in range(20):
        q.add(make.ticket(level=60 if i < 10 else 10, at=float(i)))
    (m,) = q.match(30.0)
    assert level_sums(m) == [350, 350]


def test_rating_breaks_level_ties() -> None:
    """Equal levels: the rating sums are balanced instead."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    for i in range(20):
        q.add(make.ticket(rating=2000 if i < 10 else 1000, at=float(i)))
    (m,) = q.match(30.0)
    assert [sum(t.rating for t in team) for team in m.teams] == [15000, 15000]


@settings(max_examples=80, deadline=None)
@given(parties=st.lists(st.tuples(st.integers(1, 10), st.integers(1, 60)), min_size=1, max_size=40))
def test_battleground_parties_are_never_split(parties: list[tuple[int, int]]) -> None:
    """Every party lands whole in one team; teams are exactly 10 and 10."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    for i, (size, level) in enumerate(parties):
        q.add(make.ticket(size, level=level, at=float(i)))
    for m in q.match(100.0):
        check_match(BATTLEGROUND, m)
        team_of = {c: j for j, team in enumerate(m.teams) for t in team for c in t.members}
        for t in m.tickets():
            assert len({team_of[c] for c in t.members}) == 1


def test_parties_that_break_a_naive_split_still_fill_exactly() -> None:
    """Parties 5,5,4,3,3 (strongest first) fill 10v10 though naive dealing would overflow."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    for i, size in enumerate([5, 5, 4, 3, 3]):
        q.add(make.ticket(size, level=60 - i, at=float(i)))
    (m,) = q.match(10.0)
    check_match(BATTLEGROUND, m)
    assert sorted(sorted(t.size for t in team) for team in m.teams) == [[3, 3, 4], [5, 5]]


def test_battleground_takes_the_oldest_tickets() -> None:
    """25 solos: the 20 that queued first are matched, the 5 youngest keep waiting."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    tickets = [make.ticket(at=float(25 - i)) for i in range(25)]
    for t in tickets:
        q.add(t)
    (m,) = q.match(30.0)
    assert {t.ticket_id for t in m.tickets()} == {t.ticket_id for t in tickets[5:]}
    assert {t.ticket_id for t in q} == {t.ticket_id for t in tickets[:5]}


def test_an_old_party_nobody_can_complete_does_not_block_the_queue() -> None:
    """A party of 3 first, then only parties of 5: the fives play, the three waits."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    three = make.ticket(3, at=0.0)
    q.add(three)
    fives = [make.ticket(5, at=float(i + 1)) for i in range(4)]
    for t in fives:
        q.add(t)
    (m,) = q.match(10.0)
    assert {t.ticket_id for t in m.tickets()} == {t.ticket_id for t in fives}
    assert list(q) == [three]


def test_an_older_ticket_that_fits_is_never_skipped() -> None:
    """Parties 9, 5, 5, 1: the 9 (oldest) plays with the 1 and a 5 rather than waiting."""
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    nine, five_a, five_b, one = (make.ticket(n, at=float(i)) for i, n in enumerate([9, 5, 5, 1]))
    for t in (nine, five_a, five_b, one):
        q.add(t)
    (m,) = q.match(10.0)
    assert nine in m.tickets()
    assert one in m.tickets()


# --- arena -------------------------------------------------------------------


def test_arena_teams_400_apart_meet_only_once_the_window_has_widened() -> None:
    """Window 100 + 10/s: 1300 vs 1700 do not meet at t=0 or t=29, do at t=30."""
    q, make = Queue(ARENA2, WINDOW), Maker()
    low, high = make.ticket(2, rating=1300), make.ticket(2, rating=1700)
    q.add(low)
    q.add(high)
    assert q.match(0.0) == []
    assert q.match(29.0) == []
    (m,) = q.match(30.0)
    check_match(ARENA2, m)
    assert {m.teams[0][0].rating, m.teams[1][0].rating} == {1300, 1700}


def test_the_longer_waiting_side_window_decides() -> None:
    """A team waiting 30 s (window 400) meets a newcomer 400 away (own window 110)."""
    q, make = Queue(ARENA2, WINDOW), Maker()
    q.add(make.ticket(2, rating=1300, at=0.0))
    q.add(make.ticket(2, rating=1700, at=29.0))
    assert len(q.match(30.0)) == 1


def test_arena_combines_smaller_tickets_into_teams() -> None:
    """3v3 from a party of 2 + solo vs three solos: teams of exactly 3 tickets' members."""
    q, make = Queue(ARENA3, WINDOW), Maker()
    for t in [make.ticket(2), make.ticket(), make.ticket(), make.ticket(), make.ticket()]:
        q.add(t)
    (m,) = q.match(0.0)
    check_match(ARENA3, m)
    assert sorted(sorted(t.size for t in team) for team in m.teams) == [[1, 1, 1], [1, 2]]


def test_arena_prefers_the_oldest_opponent_in_the_window() -> None:
    """Of two teams within the window, the one that queued first is chosen."""
    q, make = Queue(ARENA2, WINDOW), Maker()
    anchor = make.ticket(2, rating=1500, at=0.0)
    young = make.ticket(2, rating=1500, at=5.0)
    old = make.ticket(2, rating=1580, at=1.0)
    far = make.ticket(2, rating=1900, at=0.5)
    for t in (anchor, young, old, far):
        q.add(t)
    (m,) = q.match(5.0)
    assert set(m.tickets()) == {anchor, old}


def test_unrated_arena_ignores_ratings() -> None:
    """Without rating, teams 5,000 apart meet at once."""
    rules = ActivityRules(key="skirmish", kind="arena", team_sizes=(2, 2), rated=False)
    q, make = Queue(rules, WINDOW), Maker()
    q.add(make.ticket(2, rating=0))
    q.add(make.ticket(2, rating=5000))
    assert len(q.match(0.0)) == 1


@settings(max_examples=60, deadline=None)
@given(
    rules=st.sampled_from([ARENA2, ARENA3]),
    tickets=st.lists(
        st.tuples(st.integers(1, 3), st.integers(0, 3000), st.floats(0, 60)), max_size=40
    ),
)
def test_arena_teams_differ_by_at_most_the_longest_wait_window(
    rules: ActivityRules, tickets: list[tuple[int, int, float]]
) -> None:
    """Team ratings (member-weighted) differ by at most the widest window in the match."""
    q, make = Queue(rules, WINDOW), Maker()
    for size, rating, at in tickets:
        if size <= rules.team_sizes[0]:
            q.add(make.ticket(size, rating=rating, at=at))
    now = 60.0
    for m in q.match(now):
        check_match(rules, m)
        means = [sum(t.rating * t.size for t in team) / rules.team_sizes[0] for team in m.teams]
        widest = max(WINDOW.width(now - t.queued_at) for t in m.tickets())
        assert max(means) - min(means) <= widest + 1e-9


# --- dungeon -----------------------------------------------------------------


def test_dungeon_group_has_one_tank_one_healer_three_damage() -> None:
    """A flexible tank/damage player is made the tank when the damage slots are taken."""
    q, make = Queue(DUNGEON, WINDOW), Maker()
    flex = make.ticket(roles=[("tank", "damage")], at=0.0)
    q.add(flex)
    for i, role in enumerate(["damage", "damage", "damage", "healer"]):
        q.add(make.ticket(roles=[role], at=float(i + 1)))
    (m,) = q.match(10.0)
    check_match(DUNGEON, m)
    assert m.roles[flex.members[0]] == "tank"


def test_no_group_forms_without_a_healer() -> None:
    """Ten damage and a tank but no healer: nobody is matched."""
    q, make = Queue(DUNGEON, WINDOW), Maker()
    q.add(make.ticket(roles=["tank"]))
    for _ in range(10):
        q.add(make.ticket(roles=["damage"]))
    assert q.match(0.0) == []
    assert len(q) == 11


def test_an_old_dungeon_party_nobody_can_complete_does_not_block() -> None:
    """A damage pair first; tank+healer+2 damage and a damage solo behind it still play."""
    q, make = Queue(DUNGEON, WINDOW), Maker()
    pair = make.ticket(2, roles=["damage", "damage"], at=0.0)
    four = make.ticket(4, roles=["tank", "healer", "damage", "damage"], at=1.0)
    solo = make.ticket(roles=["damage"], at=2.0)
    for t in (pair, four, solo):
        q.add(t)
    (m,) = q.match(5.0)
    check_match(DUNGEON, m)
    assert set(m.tickets()) == {four, solo}
    assert list(q) == [pair]


@st.composite
def dungeon_ticket(draw: st.DrawFn, ticket_id: int, at: float) -> Ticket:
    size = draw(st.sampled_from([1, 1, 1, 2, 3, 5]))
    roles = tuple(frozenset(draw(ROLE_SETS)) for _ in range(size))
    return Ticket(
        ticket_id=ticket_id,
        members=tuple(ticket_id * 10 + i for i in range(size)),
        levels=(1,) * size,
        roles=roles,
        queued_at=at,
    )


@settings(max_examples=80, deadline=None)
@given(data=st.data(), count=st.integers(0, 40))
def test_dungeon_role_fill_is_always_valid(data: st.DataObject, count: int) -> None:
    """Every group has exactly 1 tank, 1 healer, 3 damage, each a role its player accepts."""
    q = Queue(DUNGEON, WINDOW)
    for i in range(count):
        t = data.draw(dungeon_ticket(i + 1, float(i)))
        with contextlib.suppress(InvalidInput):  # no role split fits this party
            q.add(t)
    matches = q.match(100.0)
    for m in matches:
        check_match(DUNGEON, m)
        assert Counter(m.roles.values()) == {"tank": 1, "healer": 1, "damage": 3}
    assert sum(len(m.tickets()) for m in matches) + len(q) <= count


@pytest.mark.parametrize("rules", [DUNGEON, BATTLEGROUND, ARENA2, ARENA3], ids=lambda r: r.key)
def test_an_empty_queue_matches_nothing(rules: ActivityRules) -> None:
    """match on an empty queue returns no match."""
    assert Queue(rules, WINDOW).match(0.0) == []


def test_swapping_equal_parties_narrows_what_dealing_left() -> None:
    """Parties force the strongest-first deal apart (88 levels); swaps bring it to 0."""
    spec = [(1, 10), (1, 31), (1, 52), (1, 27), (1, 35), (1, 37), (1, 49), (1, 22), (1, 60)]
    spec += [(1, 32), (1, 42), (1, 30), (2, 33), (3, 15), (2, 33), (2, 55)]
    q, make = Queue(BATTLEGROUND, WINDOW), Maker()
    for i, (size, level) in enumerate(spec):
        q.add(make.ticket(size, level=level, at=float(i)))
    (m,) = q.match(100.0)
    check_match(BATTLEGROUND, m)
    a, b = level_sums(m)
    assert a == b
