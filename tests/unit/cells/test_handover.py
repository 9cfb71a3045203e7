"""The decisions a cell takes about the players it handed over (``cells.handover``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realmkit.cells.handover import (
    FIRST_LOOK_SECONDS,
    FORWARD_SECONDS,
    GIVE_UP_SECONDS,
    Crossing,
    Host,
    Resends,
    Seat,
    settle,
)

HERE = 7
seats = st.builds(Seat, st.sampled_from([HERE, 8, 9]), st.integers(1, 6))
hosts = st.none() | st.builds(Host, st.booleans(), st.sampled_from(["w1", "w2"]))


def test_a_crossing_is_placed_when_the_assignment_leaves_this_cell_or_its_epoch() -> None:
    c = Crossing(epoch=3, sent_at=0.0)
    assert not c.placed(Seat(HERE, 3), HERE)  # still here, as handed
    assert c.placed(Seat(8, 4), HERE)  # the neighbour's CrossCell was placed
    assert c.placed(Seat(HERE, 4), HERE)  # seated here again since (a resume)
    assert c.placed(None, HERE)  # logged out


def test_it_is_looked_at_after_the_first_look_delay_and_forgotten_after_forwarding() -> None:
    c = Crossing(epoch=1, sent_at=10.0)
    assert not c.due(10.0 + FIRST_LOOK_SECONDS / 2)
    assert c.due(10.0 + FIRST_LOOK_SECONDS)
    c.placed_at = 11.0
    assert not c.due(20.0)
    assert not c.forgotten(11.0 + FORWARD_SECONDS / 2)
    assert c.forgotten(11.0 + FORWARD_SECONDS)


def test_inputs_that_still_come_keep_a_placed_crossing() -> None:
    """A gateway that did not hear of the crossing still sends its player's inputs
    here: they are forwarded, and the crossing kept until none came for
    FORWARD_SECONDS."""
    c = Crossing(epoch=1, sent_at=0.0)
    c.placed_at = 1.0
    c.forward(1.0 + FORWARD_SECONDS - 0.5)  # just before it would be forgotten
    assert not c.forgotten(1.0 + FORWARD_SECONDS)
    c.forward(1.0 + 1.5 * FORWARD_SECONDS)
    assert not c.forgotten(1.0 + 2.4 * FORWARD_SECONDS)
    assert c.forgotten(1.0 + 2.5 * FORWARD_SECONDS)
    early = Crossing(epoch=1, sent_at=0.0)
    early.forward(0.5)  # forwarded before it was seen placed: counts from the placing
    early.placed_at = 1.0
    assert not early.forgotten(1.0 + FORWARD_SECONDS / 2)
    assert early.forgotten(1.0 + FORWARD_SECONDS)


def test_a_neighbour_is_given_up_on_when_gone_down_or_moved() -> None:
    ready = Host(True, "w1")
    c = Crossing(epoch=1, sent_at=0.0)
    assert not c.lost(1.0, GIVE_UP_SECONDS, ready)  # the first look remembers w1
    assert not c.lost(2.0, GIVE_UP_SECONDS, ready)
    assert c.lost(3.0, GIVE_UP_SECONDS, Host(True, "w2"))  # restored elsewhere
    assert Crossing(1, 0.0).lost(1.0, GIVE_UP_SECONDS, Host(False, "w1"))  # its node died
    assert Crossing(1, 0.0).lost(1.0, GIVE_UP_SECONDS, None)  # merged away
    assert Crossing(1, 0.0).lost(GIVE_UP_SECONDS, GIVE_UP_SECONDS, ready)  # too long


@given(st.lists(st.tuples(st.floats(0.0, 60.0), hosts), min_size=1, max_size=8))
def test_lost_is_given_up_once_late_whatever_the_neighbour_says(
    looks: list[tuple[float, Host | None]],
) -> None:
    """Late enough, every look gives up; before that, a ready neighbour on the node
    of the first look is never given up on."""
    c = Crossing(epoch=1, sent_at=0.0)
    first: str | None = None
    for at, host in sorted(looks, key=lambda look: look[0]):
        verdict = c.lost(at, GIVE_UP_SECONDS, host)
        if at >= GIVE_UP_SECONDS or host is None or not host.ready:
            assert verdict
        elif first is None:
            first = host.node
            assert not verdict
        else:
            assert verdict == (host.node != first)


@given(st.dictionaries(st.integers(1, 50), st.integers(1, 6)), st.data())
def test_settle_adopts_only_newer_epochs_here_and_drops_what_is_played_elsewhere(
    mine: dict[int, int], data: st.DataObject
) -> None:
    found = data.draw(st.dictionaries(st.sampled_from(sorted(mine) or [0]), seats))
    adopt, drop = settle(mine, found, HERE)
    assert set(adopt).isdisjoint(drop)
    for cid, epoch in mine.items():
        seat = found.get(cid)
        if seat is None or seat.instance_id != HERE:
            assert cid in drop
        elif seat.epoch > epoch:
            assert adopt[cid] == seat.epoch
        else:
            assert cid not in adopt
            assert cid not in drop


def test_creatures_handed_over_are_sent_again_to_the_new_incarnation_for_a_while() -> None:
    """What was handed to a cell within ``keep`` seconds goes again when it is loaded
    again; not what went to another cell, came back since, or is older."""
    r: Resends[str] = Resends(keep=30.0)
    r.sent(1, 2, "wolf 1 to cell 2", 0.0)
    r.sent(3, 2, "wolf 3 to cell 2", 10.0)
    r.sent(4, 5, "wolf 4 to cell 5", 10.0)
    r.sent(6, 2, "wolf 6 to cell 2", 10.0)
    r.back(6)  # handed back here since
    assert r.renewed(2, 20.0) == ["wolf 1 to cell 2", "wolf 3 to cell 2"]
    assert r.renewed(2, 35.0) == ["wolf 3 to cell 2"]  # wolf 1's hand-over is 35 s old
    assert r.renewed(5, 35.0) == ["wolf 4 to cell 5"]
    r.sent(3, 5, "wolf 3 to cell 5", 36.0)  # handed again (back, then out again)
    assert r.renewed(2, 36.0) == []
    assert len(r) == 2
