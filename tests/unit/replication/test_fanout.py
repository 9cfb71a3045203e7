"""The gateway's fan-out: a frame it cannot deliver is sent again later as a keyframe."""

from __future__ import annotations

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.replication.client import EntityTable
from realmkit.replication.fanout import Fanout
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState

PACK = load_pack(classic_pack_path())
# A map where nothing moves unless players do: no creature spawns on it.
QUIET = next(m for m in PACK.maps.values() if not PACK.spawns_on(m.id))


def _alone_in_a_quiet_space() -> Space:
    space = Space(PACK, QUIET.id, instance_id=1, seed=1)
    at = QUIET.spawn_points[0].at
    space.add_player(PlayerState(7, "Aria", 1, 100, QUIET.id, at.x, at.y, at.z, 0.0))
    return space


def _frame_at(space: Space, tick: int):  # type: ignore[no-untyped-def]
    space.step(tick)
    (frame,) = space.frames_to_send()
    return frame


def test_undelivered_first_frame_comes_again_as_a_keyframe() -> None:
    """A joining player's first frame, dropped, is re-sent even though nothing changed."""
    space = _alone_in_a_quiet_space()
    fanout = Fanout()
    assert fanout.frame(_frame_at(space, 1), deliverable=lambda c: False) == []
    sent = fanout.frame(_frame_at(space, 2), deliverable=lambda c: True)
    assert [character for character, _ in sent] == [7]
    table = EntityTable()
    assert table.apply(sent[0][1])
    assert 7 in table.rows


def test_a_still_player_gets_no_more_frames_once_delivered() -> None:
    """Once the keyframe reached the client, a quiet space sends that player nothing."""
    space = _alone_in_a_quiet_space()
    fanout = Fanout()
    assert [c for c, _ in fanout.frame(_frame_at(space, 1), deliverable=lambda c: True)] == [7]
    assert fanout.frame(_frame_at(space, 2), deliverable=lambda c: True) == []


def test_a_late_frame_of_a_space_everyone_left_keeps_no_replicator() -> None:
    """A frame arriving after its players left this gateway leaves no replicator behind."""
    space = _alone_in_a_quiet_space()
    fanout = Fanout()
    fanout.frame(_frame_at(space, 1), deliverable=lambda c: True)
    fanout.left(1, 7)
    assert fanout.replicators == {}
    assert fanout.frame(_frame_at(space, 2), deliverable=lambda c: False) == []
    assert fanout.replicators == {}
