"""Conservation under any sequence of add/remove/match/requeue, for every kind of activity."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mm_fixtures import ARENA2, ARENA3, DUNGEON, WINDOW, check_match

from realmkit.errors import AlreadyQueued, InvalidInput
from realmkit.matchmaking.queue import Queue
from realmkit.matchmaking.rules import ActivityRules, Match, Ticket

SMALL_BATTLEGROUND = ActivityRules(key="bg", kind="battleground", team_sizes=(4, 4))
ROLE_SETS = st.sampled_from(
    [frozenset(), frozenset({"tank"}), frozenset({"healer"}), frozenset({"damage"}),
     frozenset({"tank", "damage"}), frozenset({"healer", "damage"})]
)  # fmt: skip


class QueueConservation(RuleBasedStateMachine):
    """Every ticket ever added is queued, in exactly one live match, or gone — never two."""

    rules_under_test: ActivityRules = DUNGEON
    max_party = 3

    def __init__(self) -> None:
        super().__init__()
        self.q = Queue(self.rules_under_test, WINDOW)
        self.now = 0.0
        self.next_id = 1
        self.queued: dict[int, Ticket] = {}
        self.matched: dict[int, Match] = {}  # ticket id -> its live match
        self.gone: set[int] = set()
        self.ever: set[int] = set()
        self.live: list[Match] = []

    @rule(data=st.data(), count=st.integers(1, 8))
    def add(self, data: st.DataObject, count: int) -> None:
        for _ in range(count):
            size = data.draw(st.integers(1, self.max_party))
            tid = self.next_id
            self.next_id += 1
            roles = tuple(data.draw(ROLE_SETS) for _ in range(size)) if self.uses_roles else ()
            t = Ticket(
                ticket_id=tid,
                members=tuple(tid * 10 + i for i in range(size)),
                levels=tuple(data.draw(st.integers(1, 60)) for _ in range(size)),
                roles=roles,
                rating=data.draw(st.integers(1000, 2000)),
                queued_at=max(0.0, self.now - data.draw(st.floats(0, 30))),
            )
            try:
                assert self.q.add(t) is True
            except InvalidInput:
                continue
            self.queued[tid] = t
            self.ever.add(tid)

    @property
    def uses_roles(self) -> bool:
        return bool(self.rules_under_test.team_roles)

    @precondition(lambda self: self.queued)
    @rule(data=st.data())
    def add_again_or_clash(self, data: st.DataObject) -> None:
        t = data.draw(st.sampled_from(sorted(self.queued.values(), key=lambda t: t.ticket_id)))
        assert self.q.add(t) is False
        clash = Ticket(ticket_id=10**6 + t.ticket_id, members=t.members[:1], levels=(1,))
        with pytest.raises(AlreadyQueued) as info:
            self.q.add(clash)
        assert info.value.ticket_id == t.ticket_id

    @precondition(lambda self: self.ever)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        tid = data.draw(st.sampled_from(sorted(self.ever)))
        got = self.q.remove(tid)
        if tid in self.queued:
            assert got == self.queued.pop(tid)
            self.gone.add(tid)
        else:
            assert got is None

    @rule(dt=st.floats(0, 40))
    def match(self, dt: float) -> None:
        self.now += dt
        for m in self.q.match(self.now):
            check_match(self.rules_under_test, m)
            for t in m.tickets():
                assert self.queued.pop(t.ticket_id) == t, "matched a ticket not queued"
                assert t.ticket_id not in self.matched
                self.matched[t.ticket_id] = m
            self.live.append(m)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), declined=st.booleans())
    def settle(self, data: st.DataObject, declined: bool) -> None:
        """A live match either starts (its tickets are done) or one ticket declines."""
        m = self.live.pop(data.draw(st.integers(0, len(self.live) - 1)))
        tickets = list(m.tickets())
        back: list[Ticket] = []
        if declined:
            decliner = data.draw(st.sampled_from(tickets))
            back = [t for t in tickets if t is not decliner]
        assert self.q.requeue(back) == len(back)
        for t in tickets:
            del self.matched[t.ticket_id]
            if t in back:
                self.queued[t.ticket_id] = t
            else:
                self.gone.add(t.ticket_id)

    @invariant()
    def every_ticket_is_in_exactly_one_place(self) -> None:
        in_queue = {t.ticket_id for t in self.q}
        assert in_queue == set(self.queued)
        assert len(self.q) == len(in_queue)
        assert not (in_queue & set(self.matched))
        assert not (in_queue & self.gone)
        assert not (set(self.matched) & self.gone)
        assert in_queue | set(self.matched) | self.gone == self.ever

    @invariant()
    def the_queue_is_in_order(self) -> None:
        keys = [(t.queued_at, t.ticket_id) for t in self.q]
        assert keys == sorted(keys)
        assert [self.q.position(k[1]) for k in keys] == list(range(1, len(keys) + 1))


SETTINGS = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class DungeonConservation(QueueConservation):
    rules_under_test = DUNGEON
    max_party = 3


class BattlegroundConservation(QueueConservation):
    rules_under_test = SMALL_BATTLEGROUND
    max_party = 3


class Arena2Conservation(QueueConservation):
    rules_under_test = ARENA2
    max_party = 2


class Arena3Conservation(QueueConservation):
    rules_under_test = ARENA3
    max_party = 3


TestDungeonConservation = DungeonConservation.TestCase
TestDungeonConservation.settings = SETTINGS
TestBattlegroundConservation = BattlegroundConservation.TestCase
TestBattlegroundConservation.settings = SETTINGS
TestArena2Conservation = Arena2Conservation.TestCase
TestArena2Conservation.settings = SETTINGS
TestArena3Conservation = Arena3Conservation.TestCase
TestArena3Conservation.settings = SETTINGS
