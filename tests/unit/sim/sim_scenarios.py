"""Shared scenarios for the space tests: a small crowd near creatures, driven by op lists."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import msgspec

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.content.schema import ContentPack
from realmkit.protocol.events import ItemIdsNeeded
from realmkit.protocol.inputs import Attack, Cast, ClientInput, Move, Release, Say
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState

PACK = load_pack(classic_pack_path())
CONTINENT = 1

# One op: (player index, action, a, b) with a, b in [0, 1] parameterising the action.
Op = tuple[int, str, float, float]
ACTIONS = ("move", "move", "move", "attack", "firebolt", "mend", "say", "release", "junk")


def crowd_space(pack: ContentPack = PACK, seed: int = 7, players: int = 6) -> Space:
    """A continent space with ``players`` characters standing at the first creature spawn."""
    spawn = pack.spawns_on(CONTINENT)[0].at
    space = Space(pack, CONTINENT, instance_id=1, seed=seed, item_ids=(1, 9))
    for i in range(players):
        space.add_player(
            PlayerState(
                character_id=1000 + i,
                name=f"hero{i}",
                level=3,
                hp=160,
                map_id=CONTINENT,
                x=spawn.x + 3.0 * i,
                y=spawn.y - 4.0,
                z=spawn.z,
                orientation=0.0,
            )
        )
    return space


@dataclass
class Driver:
    """Turns ops into inputs and plays the world node (answering id requests)."""

    space: Space
    next_block: int = 1_000_000
    seqs: dict[int, int] = field(default_factory=dict)
    answer_after: int = 0  # ticks the "node" takes to answer an id request
    requests: list[int] = field(default_factory=list)

    def inputs_for(self, op: Op) -> tuple[int, ClientInput]:
        index, action, a, b = op
        ids = sorted(self.space.world.players)
        cid = ids[index % len(ids)]
        tick = max(self.space.tick, 0)
        if action == "move":
            state = self.space.player_state(cid)
            heading = a * 2 * math.pi
            step = PACK.player.run_speed * b * 0.05
            self.seqs[cid] = self.seqs.get(cid, 0) + 1
            x = state.x + step * math.cos(heading)
            y = state.y + step * math.sin(heading)
            return cid, Move(x, y, state.z, heading, (tick + 1) * 50, self.seqs[cid])
        if action == "junk":
            self.seqs[cid] = self.seqs.get(cid, 0) + 1
            return cid, Move(math.nan if a < 0.5 else 1e9, 0.0, 0.0, b, tick * 50, self.seqs[cid])
        if action in ("attack", "firebolt"):
            target = self.nearest_creature(cid)
            return cid, (Attack(target) if action == "attack" else Cast(1, target))
        if action == "mend":
            return cid, Cast(2, ids[int(a * len(ids)) % len(ids)])
        if action == "say":
            return cid, Say("hail" * int(1 + a * 3), yell=b > 0.8)
        return cid, Release()

    def nearest_creature(self, cid: int) -> int:
        st = self.space.world.store
        me = st.slot_of[cid]
        best, best_d = 0, math.inf
        for slot in st.live(kind=None).tolist():
            if st.cols["id"][slot] >= 0:
                continue
            d = (st.cols["x"][slot] - st.cols["x"][me]) ** 2 + (
                st.cols["y"][slot] - st.cols["y"][me]
            ) ** 2
            if d < best_d:
                best, best_d = int(st.cols["id"][slot]), float(d)
        return best

    def step(self, ops: list[Op]) -> bytes:
        """Feed ops, run the next tick, drain everything; the outputs as bytes."""
        for op in ops:
            cid, inp = self.inputs_for(op)
            self.space.receive_input(cid, inp)
        self.space.step(self.space.tick + 1)
        events = self.space.events_to_emit()
        self.requests += [self.space.tick] * sum(isinstance(e, ItemIdsNeeded) for e in events)
        while self.requests and self.requests[0] + self.answer_after <= self.space.tick:
            self.requests.pop(0)
            self.space.add_item_ids(self.next_block, self.next_block + 7)
            self.next_block += 7
            more = self.space.events_to_emit()
            self.requests += [self.space.tick] * sum(isinstance(e, ItemIdsNeeded) for e in more)
            events += more
        frames = self.space.frames_to_send()
        saves = self.space.saves_to_write()
        return msgspec.msgpack.encode([events, frames, saves])


def run_ticks(space: Space, ticks: int) -> list[object]:
    """Step ``space`` through ``ticks`` more ticks; the events they emitted."""
    events: list[object] = []
    for _ in range(ticks):
        space.step(space.tick + 1)
        events += space.events_to_emit()
    return events
