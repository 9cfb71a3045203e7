"""End to end without I/O: space frames, split per gateway, replicated into client tables."""

from __future__ import annotations

import msgspec
import numpy as np

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.protocol.events import Corrected
from realmkit.protocol.frames import FrameArrays, select_observers
from realmkit.protocol.inputs import Move
from realmkit.replication.client import EntityRow, EntityTable
from realmkit.replication.quantize import quantize
from realmkit.replication.replicator import ReplicationConfig, Replicator
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState

PACK = load_pack(classic_pack_path())


def _expected(frame_arrays: FrameArrays, index: int) -> dict[int, EntityRow]:
    q = quantize(frame_arrays)
    a = frame_arrays
    out = {}
    for row in [int(a.selves[index]), *a.visible_of(index).tolist()]:
        x, y, z, o, hp, flags = q[row].tolist()
        out[int(a.ids[row])] = EntityRow(
            int(a.kinds[row]), int(a.templates[row]), x, y, z, o, hp, flags
        )
    return out


def test_players_on_two_gateways_converge_to_their_views() -> None:
    """Walking players, split over two gateways, end with exactly what they see, quantized."""
    spawn = PACK.spawns_on(1)[0].at
    space = Space(PACK, 1, seed=9, item_ids=(1, 100))
    for cid in range(1, 9):
        space.add_player(
            PlayerState(cid, f"p{cid}", 5, 180, 1, spawn.x + cid, spawn.y - 30.0, 10.0, 0.0)
        )
    gateways = {"g1": {1, 2, 3, 4}, "g2": {5, 6, 7, 8}}
    reps = {g: Replicator(ReplicationConfig(budget_bytes_per_s=4096.0)) for g in gateways}
    tables = {cid: EntityTable() for cid in range(1, 9)}
    last = None
    for tick in range(200):
        if tick % 2 == 0:
            for cid in range(1, 9):
                s = space.player_state(cid)
                space.receive_input(cid, Move(s.x + 0.5, s.y, s.z, 0.0, tick * 50, tick + 1))
        space.step(tick)
        assert not [e for e in space.events_to_emit() if isinstance(e, Corrected)]
        (last,) = space.frames_to_send()
        for g, members in gateways.items():
            part = select_observers(last, members)
            assert set(FrameArrays.of(part).observers.tolist()) == members
            for cid, data in reps[g].step(part):
                if not tables[cid].apply(data):
                    reps[g].request_keyframe(cid)
    assert last is not None
    # The world holds still (the last frame repeats); every client settles on it.
    for tick in range(200, 600):
        frame = msgspec.structs.replace(last, tick=tick)
        for g, members in gateways.items():
            for cid, data in reps[g].step(select_observers(frame, members)):
                assert tables[cid].apply(data)
    full = FrameArrays.of(last)
    for index, cid in enumerate(full.observers.tolist()):
        assert tables[cid].rows == _expected(full, index)
        assert tables[cid].ack == int(full.acks[index])
    assert np.all(full.acks > 0)
