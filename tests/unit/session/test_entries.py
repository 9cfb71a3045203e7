"""A gateway's watch over the entries it gave up on (``session.entries``)."""

from __future__ import annotations

from realmkit.session.entries import AbandonedEntries, SeatSeen

HERE = "gateway-1"


def test_a_late_seat_under_this_gateway_is_logged_out_once() -> None:
    watch = AbandonedEntries(watch=60.0)
    watch.entering(7)
    watch.gave_up(7, now=0.0)
    assert watch.to_look_up(1.0, playing=set()) == [7]
    seat = SeatSeen(HERE, 3, 5, in_world=True)
    assert watch.to_log_out(HERE, {7: seat}, playing=set()) == [(7, 3, 5)]
    assert watch.to_look_up(2.0, playing=set()) == []  # no longer watched


def test_what_entered_again_or_is_elsewhere_is_left_alone() -> None:
    watch = AbandonedEntries(watch=60.0)
    for cid in (1, 2, 3, 4):
        watch.gave_up(cid, now=0.0)
    watch.entering(2)  # trying again through this gateway
    watch.entered(3)  # in, through this gateway
    assert watch.to_look_up(1.0, playing={4}) == [1]  # 4 plays here now
    seats = {
        1: SeatSeen("gateway-2", 3, 6, in_world=True),  # entered through another gateway
        4: SeatSeen(HERE, 3, 6, in_world=True),
    }
    assert watch.to_log_out(HERE, seats, playing={4}) == []
    not_yet = {1: SeatSeen(HERE, 3, 6, in_world=False)}  # its seat is still under way
    assert watch.to_log_out(HERE, not_yet, playing=set()) == []


def test_a_refused_entry_is_not_watched_and_a_watch_ends() -> None:
    watch = AbandonedEntries(watch=60.0)
    watch.entering(1)
    watch.failed(1)
    watch.gave_up(2, now=0.0)
    assert watch.to_look_up(59.0, playing=set()) == [2]
    assert watch.to_look_up(61.0, playing=set()) == []
