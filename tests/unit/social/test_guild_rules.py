"""Guild rank rules: who may do what to whom, and who leads after the leader."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from realmkit.errors import GuildRankTooLow, InvalidInput
from realmkit.social.channel import check_channel, check_password
from realmkit.social.guild import (
    Action,
    Member,
    Rank,
    allowed,
    check_motd,
    check_name,
    new_rank,
    require,
    successor,
)

LEAD, OFF, MEM, INIT = Rank.LEADER, Rank.OFFICER, Rank.MEMBER, Rank.INITIATE


@pytest.mark.parametrize(
    ("action", "ranks"),
    [
        (Action.INVITE, {LEAD, OFF}),
        (Action.SET_MOTD, {LEAD, OFF}),
        (Action.DISBAND, {LEAD}),
    ],
)
def test_actions_without_a_target_need_their_minimum_rank(action: Action, ranks: set[Rank]) -> None:
    """Leaders and officers invite and set the motd; only the leader disbands."""
    assert {r for r in Rank if allowed(action, r)} == ranks


def test_nobody_acts_on_an_equal_or_higher_rank() -> None:
    """Kicks, promotions and demotions reach only ranks below the actor's."""
    for action in (Action.KICK, Action.PROMOTE, Action.DEMOTE):
        for actor in Rank:
            for target in Rank:
                if target <= actor:
                    assert not allowed(action, actor, target), (action, actor, target)


def test_members_and_initiates_act_on_nobody() -> None:
    """A member may not kick an initiate, nor promote or demote one."""
    for action in (Action.KICK, Action.PROMOTE, Action.DEMOTE):
        assert not allowed(action, MEM, INIT)
        with pytest.raises(GuildRankTooLow) as refused:
            require(action, 7, MEM, INIT)
        assert refused.value.to_dict()["code"] == "GUILD_RANK_TOO_LOW"
        assert (refused.value.rank, refused.value.target_rank) == (2, 3)


def test_promotion_stops_below_the_promoter() -> None:
    """The leader makes officers but no second leader; officers make members only."""
    assert new_rank(Action.PROMOTE, 1, LEAD, MEM) is OFF
    assert new_rank(Action.PROMOTE, 1, LEAD, INIT) is MEM
    assert new_rank(Action.PROMOTE, 1, OFF, INIT) is MEM
    with pytest.raises(GuildRankTooLow):
        new_rank(Action.PROMOTE, 1, LEAD, OFF)
    with pytest.raises(GuildRankTooLow):
        new_rank(Action.PROMOTE, 1, OFF, MEM)


def test_demotion_stops_at_initiate() -> None:
    """Officers go down to member, members to initiate, initiates nowhere."""
    assert new_rank(Action.DEMOTE, 1, LEAD, OFF) is MEM
    assert new_rank(Action.DEMOTE, 1, OFF, MEM) is INIT
    with pytest.raises(GuildRankTooLow):
        new_rank(Action.DEMOTE, 1, LEAD, INIT)
    with pytest.raises(GuildRankTooLow):
        new_rank(Action.DEMOTE, 1, OFF, OFF)


def test_the_successor_is_the_highest_ranked_then_longest_serving() -> None:
    """Officers before members whatever their seniority; the earlier of two officers."""
    members = [Member(1, LEAD), Member(2, MEM), Member(3, OFF), Member(4, OFF)]
    assert successor(members, 1) == 3
    assert successor([Member(1, LEAD), Member(5, INIT), Member(2, MEM)], 1) == 2
    assert successor([Member(1, LEAD), Member(5, INIT), Member(2, INIT)], 1) == 5
    assert successor([Member(1, LEAD)], 1) is None


@pytest.mark.parametrize("name", ["Ab", "1Guild", " Lead", "Trail ", "Two  Spaces", "A" * 25])
def test_bad_guild_names_are_refused(name: str) -> None:
    """Guild names are 3-24 letters and single spaces, a letter first and last."""
    with pytest.raises(InvalidInput):
        check_name(name)


def test_good_guild_names_and_motd() -> None:
    """Names with single inner spaces pass; a motd is at most 255 characters."""
    assert check_name("Knights of Ni") == "Knights of Ni"
    assert check_motd("x" * 255)
    with pytest.raises(InvalidInput):
        check_motd("x" * 256)


def test_channel_names_are_lowered_and_checked() -> None:
    """Channel names fold to lower case; built-ins take no password."""
    assert check_channel("Trade") == "trade"
    for bad in ("a", "9lives", "has space", "x" * 21, "dash-ed"):
        with pytest.raises(InvalidInput):
            check_channel(bad)
    assert check_password("general", "secret") is None
    assert check_password("raiders", "") is None
    assert check_password("raiders", "secret") == "secret"
    with pytest.raises(InvalidInput):
        check_password("raiders", "x" * 65)


class GuildModel(RuleBasedStateMachine):
    """Any sequence of joins, kicks, promotions, demotions and leaves, each done
    only when the rules allow it, keeps exactly one leader while anyone is left."""

    def __init__(self) -> None:
        super().__init__()
        self.members: list[Member] = [Member(0, LEAD)]  # in the order they joined
        self.next_id = 1
        self.disbanded = False

    def _rank(self, character_id: int) -> Rank | None:
        return next((m.rank for m in self.members if m.character_id == character_id), None)

    def _pick(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from([m.character_id for m in self.members]))

    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        if self.disbanded:
            return
        inviter = self._pick(data)
        rank = self._rank(inviter)
        assert rank is not None
        if allowed(Action.INVITE, rank):
            self.members.append(Member(self.next_id, Rank.INITIATE))
            self.next_id += 1

    @rule(data=st.data(), action=st.sampled_from([Action.KICK, Action.PROMOTE, Action.DEMOTE]))
    def act(self, data: st.DataObject, action: Action) -> None:
        if self.disbanded:
            return
        actor, target = self._pick(data), self._pick(data)
        actor_rank, target_rank = self._rank(actor), self._rank(target)
        assert actor_rank is not None
        assert target_rank is not None
        if not allowed(action, actor_rank, target_rank):
            with pytest.raises(GuildRankTooLow):
                require(action, actor, actor_rank, target_rank)
            return
        if action is Action.KICK:
            self.members = [m for m in self.members if m.character_id != target]
            return
        changed = new_rank(action, actor, actor_rank, target_rank)
        self.members = [
            Member(m.character_id, changed) if m.character_id == target else m for m in self.members
        ]

    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        if self.disbanded:
            return
        leaving = self._pick(data)
        if self._rank(leaving) is Rank.LEADER:
            heir = successor(self.members, leaving)
            if heir is None:
                self.disbanded = True
            self.members = [
                Member(m.character_id, LEAD) if m.character_id == heir else m
                for m in self.members
                if m.character_id != leaving
            ]
        else:
            self.members = [m for m in self.members if m.character_id != leaving]

    @invariant()
    def one_leader(self) -> None:
        leaders = [m for m in self.members if m.rank is Rank.LEADER]
        assert len(leaders) == (0 if self.disbanded else 1)
        assert self.disbanded == (not self.members)


TestGuildModel = GuildModel.TestCase
TestGuildModel.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
