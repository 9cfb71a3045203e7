"""The trade core: offers, accepts, resets and what a commit moves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.errors import Conflict, InvalidInput, NotFound, StaleOffer, TradeClosed
from realmkit.lifecycle.trade import TradeState
from realmkit.social.trade import MAX_ITEMS, Offer, Trade

A, B = 1, 2


def test_both_accept_the_current_offers_and_it_commits_them() -> None:
    """Rule 3: offers, two accepts of the same version, and the commit moves those offers."""
    trade = Trade(7, A, B)
    trade.offer(A, [10, 11], 5)
    trade.offer(B, [20], 0)
    assert trade.version == 2
    assert trade.accept(A, 2) is False
    assert trade.accept(B, 2) is True
    exchange = trade.commit()
    assert (exchange.a_gives, exchange.b_gives) == (Offer((10, 11), 5), Offer((20,), 0))
    assert trade.state is TradeState.COMMITTED
    assert trade.view().side(A).accepted


def test_a_change_of_either_offer_resets_both_accepts() -> None:
    """Rule 1: B changes its offer after both accepted; neither is accepted any more."""
    trade = Trade(7, A, B)
    trade.offer(A, [10], 0)
    trade.accept(A, 1)
    trade.accept(B, 1)
    trade.offer(B, [20], 3)
    assert not trade.accepted(A)
    assert not trade.accepted(B)
    assert not trade.ready
    with pytest.raises(Conflict):
        trade.commit()


def test_an_accept_of_an_old_version_is_refused() -> None:
    """Rule 2: A saw version 1; B changed its offer since: StaleOffer with both versions."""
    trade = Trade(7, A, B)
    trade.offer(A, [10], 0)
    trade.offer(B, [], 9)
    with pytest.raises(StaleOffer) as stale:
        trade.accept(A, 1)
    assert (stale.value.version, stale.value.current) == (1, 2)
    assert not trade.accepted(A)


def test_offers_keep_their_bounds() -> None:
    """Rule 4: at most MAX_ITEMS distinct positive ids, money not negative."""
    trade = Trade(7, A, B)
    for items, money in (
        (range(1, MAX_ITEMS + 2), 0),
        ([3, 3], 0),
        ([0], 0),
        ([], -1),
    ):
        with pytest.raises(InvalidInput):
            trade.offer(A, items, money)
    assert trade.version == 0


def test_a_closed_trade_changes_no_more() -> None:
    """Rule 5: after a cancel, offers, accepts, commits and cancels are refused."""
    trade = Trade(7, A, B)
    trade.cancel("walked away")
    for attempt in (
        lambda: trade.offer(A, [], 1),
        lambda: trade.accept(A, 0),
        trade.commit,
        lambda: trade.cancel("again"),
    ):
        with pytest.raises(TradeClosed):
            attempt()
    assert (trade.state, trade.reason) == (TradeState.CANCELLED, "walked away")


def test_strangers_cannot_act_on_a_trade() -> None:
    """Only its two sides offer or accept; a character does not trade with itself."""
    trade = Trade(7, A, B)
    with pytest.raises(NotFound):
        trade.offer(3, [], 0)
    with pytest.raises(InvalidInput):
        Trade(8, A, A)


def test_a_trade_loaded_with_its_accepts_is_the_same_trade() -> None:
    """A trade rebuilt from its row (as the store does) keeps who accepted what."""
    trade = Trade(7, A, B, version=4, offers=(Offer((1,), 0), Offer()), accepted=(True, False))
    assert trade.accepted(A)
    assert not trade.ready
    assert trade.accept(B, 4)


offers = st.tuples(st.lists(st.integers(1, 30), max_size=4, unique=True), st.integers(0, 100)).map(
    lambda t: Offer(tuple(t[0]), t[1])
)
actions = st.one_of(
    st.tuples(st.just("offer"), st.sampled_from([A, B]), offers),
    st.tuples(st.just("accept"), st.sampled_from([A, B]), st.integers(0, 12)),
    st.tuples(st.just("see_and_accept"), st.sampled_from([A, B]), st.none()),
    st.tuples(st.just("commit"), st.none(), st.none()),
)


@given(st.lists(actions, max_size=40))
def test_a_commit_moves_only_what_each_side_accepted_last(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    """Any sequence of offers, accepts (of current or old versions) and commits: a
    commit happens only when each side's last accept was of the offers then current,
    and it moves exactly those offers."""
    trade = Trade(7, A, B)
    # The model: the offers each side saw when it accepted last, or None.
    seen: dict[int, tuple[Offer, Offer] | None] = {A: None, B: None}
    current = {A: Offer(), B: Offer()}
    for kind, who, arg in steps:
        if trade.state is not TradeState.OPEN:
            break
        if kind == "offer":
            assert isinstance(arg, Offer)
            assert who is not None
            trade.offer(who, arg.item_ids, arg.money)
            current[who] = arg
            seen = {A: None, B: None}
        elif kind in ("accept", "see_and_accept"):
            assert who is not None
            version = trade.version if kind == "see_and_accept" else arg
            if version != trade.version:
                with pytest.raises(StaleOffer):
                    trade.accept(who, version)
                continue
            trade.accept(who, version)
            seen[who] = (current[A], current[B])
        else:
            both = seen[A] is not None and seen[A] == seen[B] == (current[A], current[B])
            if not both:
                with pytest.raises(Conflict):
                    trade.commit()
                continue
            exchange = trade.commit()
            assert (exchange.a_gives, exchange.b_gives) == seen[A] == seen[B]
    view = trade.view()
    assert view.a.accepted == (seen[A] is not None) or trade.state is not TradeState.OPEN
