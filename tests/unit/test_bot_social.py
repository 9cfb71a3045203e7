"""The rules social bots follow (``realmkit bots --social``): pairs, whisper targets,
meeting calls, what they heard, and each step of a trade."""

from __future__ import annotations

import math
import random
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from realmkit.cli.tables import bots_table, refusals
from realmkit.client.bots import SwarmStats, summary
from realmkit.client.social_bots import (
    BESIDE,
    TradeStep,
    beside,
    called_to,
    chat_since,
    heard_from_others,
    meeting_point,
    meeting_text,
    newer_window,
    pair_seed,
    trade_partner,
    trade_step,
    whisper_target,
)
from realmkit.nodes.gateway.desk import TRADE_RANGE
from realmkit.protocol.social import ChatMessage, TradeSide, TradeWindow

swarms = st.builds(
    lambda first, count: range(first, first + count),
    st.integers(0, 1000),
    st.integers(1, 50),
)


def _window(
    trade_id: int = 7, state: str = "open", version: int = 0, mine: bool = False
) -> TradeWindow:
    return TradeWindow(trade_id, "Botaaab", state, version, TradeSide(accepted=mine), TradeSide())


@given(swarms, st.data())
def test_pairs_are_consecutive_indexes_and_one_of_each_leads(
    swarm: range, data: st.DataObject
) -> None:
    """Partners are each other's, next to each other in the swarm, and exactly one
    of them leads; only the last bot of an odd swarm is alone."""
    index = data.draw(st.sampled_from(swarm))
    pair = trade_partner(index, swarm)
    if pair is None:
        assert len(swarm) % 2 == 1
        assert index == swarm[-1]
        return
    partner, leads = pair
    assert partner in swarm
    assert abs(partner - index) == 1
    back = trade_partner(partner, swarm)
    assert back is not None
    assert back == (index, not leads)
    assert pair_seed(index, swarm) == pair_seed(partner, swarm) == min(index, partner)


def test_a_swarm_that_starts_at_an_odd_index_pairs_from_there() -> None:
    """`--first 3 -n 4`: bots 3 and 4, 5 and 6; the first of each leads."""
    swarm = range(3, 7)
    assert [trade_partner(i, swarm) for i in swarm] == [
        (4, True),
        (3, False),
        (6, True),
        (5, False),
    ]
    assert trade_partner(7, swarm) is None  # not of this swarm


@given(swarms, st.data(), st.integers(0, 2**32))
def test_a_bot_whispers_another_bot_of_its_swarm(
    swarm: range, data: st.DataObject, seed: int
) -> None:
    """Never itself, never a bot outside the swarm; nobody when alone."""
    index = data.draw(st.sampled_from(swarm))
    rng = random.Random(seed)
    for _ in range(20):
        other = whisper_target(rng, index, swarm)
        if len(swarm) == 1:
            assert other is None
        else:
            assert other in swarm
            assert other != index


def test_whisper_targets_reach_every_other_bot() -> None:
    """Over many whispers every other bot of a small swarm is picked."""
    rng = random.Random(1)
    assert {whisper_target(rng, 2, range(5)) for _ in range(200)} == {0, 1, 3, 4}


@given(st.floats(-5000, 5000), st.floats(-5000, 5000))
def test_a_meeting_call_is_understood_where_it_was_made(x: float, y: float) -> None:
    """The point a leader whispers comes back from its text to 0.05 units; its partner
    stands within trading range of it."""
    point = meeting_point(meeting_text((x, y)))
    assert point is not None
    assert math.isclose(point[0], x, abs_tol=0.051)
    assert math.isclose(point[1], y, abs_tol=0.051)
    bx, by = beside(point)
    assert math.hypot(bx - point[0], by - point[1]) == pytest.approx(BESIDE)
    assert 0 < BESIDE < TRADE_RANGE


def test_other_whispers_are_no_meeting_calls() -> None:
    assert meeting_point("hi (3)") is None
    assert meeting_point("meet me at here to trade") is None


def _chat(
    id_: int, sender: str, text: str = "hi", channel: str = "general", to: str = ""
) -> ChatMessage:
    return ChatMessage(id_, 0, channel, sender, text, to)


def test_only_what_came_after_the_last_seen_is_new() -> None:
    chat = deque(_chat(i, "Botaaaa") for i in (3, 5, 8, 9))
    assert [m.id for m in chat_since(chat, 5)] == [8, 9]
    assert chat_since(chat, 9) == []
    assert [m.id for m in chat_since(chat, 0)] == [3, 5, 8, 9]


def test_our_own_messages_coming_back_are_not_heard_from_others() -> None:
    """A bot's channel message and its whisper's copy come back to it: not counted."""
    messages = [
        _chat(1, "Botaaaa"),
        _chat(2, "Botaaab"),
        _chat(3, "botaaaa", channel="whisper", to="Botaaac"),
        _chat(4, "Botaaac-Crimson", channel="whisper"),
    ]
    assert heard_from_others(messages, "Botaaaa") == 2


def test_a_follower_answers_its_leaders_latest_call_only() -> None:
    call = meeting_text((10.0, 20.0))
    messages = [
        _chat(1, "Botaaac", call, channel="whisper"),  # another bot's leader? not ours
        _chat(2, "Botaaaa", call, channel="general"),  # said aloud: no call
        _chat(3, "Botaaaa", meeting_text((1.0, 2.0)), channel="whisper"),
        _chat(4, "Botaaaa", meeting_text((30.0, 40.0)), channel="whisper"),
        _chat(5, "Botaaaa", "hi (2)", channel="whisper"),
    ]
    assert called_to(messages, "Botaaaa") == (30.0, 40.0)
    assert called_to(messages[:2], "Botaaaa") is None
    mine = [_chat(6, "Botaaab", call, channel="whisper", to="Botaaaa")]
    assert called_to(mine, "Botaaab") is None  # our own call's copy


def test_an_older_version_seen_late_does_not_replace_the_newer() -> None:
    """A reply and the partner's news take two paths: the older one arriving last is
    ignored; a new trade or a final state of the same version is taken."""
    v2 = _window(version=2)
    assert newer_window(v2, _window(version=1)) is v2
    done = _window(version=2, state="committed")
    assert newer_window(v2, done) is done
    other = _window(trade_id=8, version=0)
    assert newer_window(v2, other) is other
    assert newer_window(None, v2) is v2


def test_each_side_offers_once_then_accepts_each_version_until_the_end() -> None:
    assert trade_step(_window(), offered=False) is TradeStep.OFFER
    assert trade_step(_window(version=1), offered=True) is TradeStep.ACCEPT
    assert trade_step(_window(version=1, mine=True), offered=True) is TradeStep.WAIT
    # Tried already: it held, or it was stale and the next version's news will come.
    assert trade_step(_window(version=1), offered=True, tried=1) is TradeStep.WAIT
    assert trade_step(_window(version=2), offered=True, tried=1) is TradeStep.ACCEPT
    for state in ("committed", "cancelled"):
        assert trade_step(_window(state=state), offered=False) is TradeStep.DONE


def test_the_summary_reports_the_social_counts() -> None:
    """Messages sent and heard, whispers refused by code, trades as they ended."""
    stats = SwarmStats()
    stats.social.chat_sent, stats.social.chat_received = 12, 30
    stats.social.refused("OFFLINE")
    stats.social.refused("OFFLINE")
    stats.social.refused("NOT_FOUND")
    stats.social.trades_committed, stats.social.trades_cancelled = 3, 1
    s = summary(stats, 4)
    assert (s.chat_sent, s.chat_received) == (12, 30)
    assert s.whispers_refused == {"NOT_FOUND": 1, "OFFLINE": 2}
    assert (s.trades_committed, s.trades_cancelled) == (3, 1)
    assert refusals(s.whispers_refused) == "OFFLINE 2, NOT_FOUND 1"
    assert refusals({}) == "-"
    shown = Console(width=200, record=True)
    shown.print(bots_table(s, live=False))
    text = shown.export_text()
    for column in ("chat sent", "heard", "whispers refused", "trades", "cancelled"):
        assert column in text
    assert "OFFLINE 2, NOT_FOUND 1" in text
