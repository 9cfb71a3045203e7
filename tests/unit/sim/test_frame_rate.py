"""Frames at the map's frame rate: the tick keeps the rules' pace, frames come less often."""

from __future__ import annotations

import msgspec
from sim_scenarios import CONTINENT, PACK

from realmkit.protocol.frames import FrameArrays
from realmkit.protocol.inputs import Move
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState

ARENA = 4


def _with_rates(tick_rate: int, frame_rate: int) -> Space:
    maps = dict(PACK.maps)
    maps[CONTINENT] = msgspec.structs.replace(
        maps[CONTINENT], tick_rate=tick_rate, frame_rate=frame_rate
    )
    return Space(msgspec.structs.replace(PACK, maps=maps, spawns=[]), CONTINENT, seed=1)


def test_the_packs_maps_send_ten_frames_a_second() -> None:
    """20 Hz maps frame every other tick, the 30 Hz arena every third."""
    continent = Space(PACK, CONTINENT, seed=1)
    assert [t for t in range(8) if continent.frame_due(t)] == [0, 2, 4, 6]
    arena = Space(PACK, ARENA, seed=1)
    assert PACK.maps[ARENA].tick_rate == 30
    assert [t for t in range(8) if arena.frame_due(t)] == [0, 3, 6]


def test_a_frame_rate_above_the_tick_rate_frames_every_tick() -> None:
    """At most one frame a tick: a faster frame rate frames every tick."""
    space = _with_rates(tick_rate=5, frame_rate=10)
    assert all(space.frame_due(t) for t in range(5))


def test_a_tick_without_a_frame_still_runs_the_rules_and_the_next_frame_acks_it() -> None:
    """Inputs consumed on a frameless tick are acked (and their moves seen) in the next frame."""
    space = _with_rates(tick_rate=20, frame_rate=10)
    space.add_player(PlayerState(1, "p1", 3, 100, CONTINENT, 500.0, 500.0, 0.0, 0.0))
    space.step(0)
    assert len(space.frames_to_send()) == 1
    space.receive_input(1, Move(501.0, 500.0, 0.0, 0.0, 50, 1))
    space.step(1, frame=space.frame_due(1))
    assert space.frames_to_send() == []
    st = space.world.store
    assert float(st.cols["x"][st.slot_of[1]]) == 501.0  # the move ran without a frame
    space.step(2, frame=space.frame_due(2))
    (frame,) = space.frames_to_send()
    a = FrameArrays.of(frame)
    assert frame.tick == 2
    assert a.acks.tolist() == [1]
    assert float(a.pos[a.selves[0], 0]) == 501.0
