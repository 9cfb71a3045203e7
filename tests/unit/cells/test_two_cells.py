"""Two cells of one continent, stepped on their own clocks and wired by hand as the
world nodes wire them: ghosts across the border, seamless crossing, hits on ghosts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from realmkit.cells.border import Margins
from realmkit.cells.ghosts import GhostRows
from realmkit.cells.partition import Axis, Partition, Rect
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.content.schema import Point, SpawnDef
from realmkit.protocol.cells import CellEvents, CellMessage, GhostBatch, Handoff
from realmkit.protocol.events import Chat, Corrected, Died, Event, LootGranted
from realmkit.protocol.frames import FrameArrays, SpaceFrame
from realmkit.protocol.inputs import Attack, Move, Say
from realmkit.replication.client import EntityTable
from realmkit.replication.fanout import Fanout
from realmkit.sim.creatures import Ai
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState
from realmkit.sim.store import Kind

PACK = load_pack(classic_pack_path())
CONTINENT = 1
BORDER = 1024.0
WOLF = 1
# Two wolves, one on each side of the border, within sight of each other.
WOLVES = msgspec.structs.replace(
    PACK,
    spawns=[
        SpawnDef(
            map=CONTINENT,
            template=WOLF,
            at=Point(x=BORDER - 30.0, y=300.0, z=0.0),
            count=1,
            wander_radius=0.0,
        ),
        SpawnDef(
            map=CONTINENT,
            template=WOLF,
            at=Point(x=BORDER + 30.0, y=300.0, z=0.0),
            count=1,
            wander_radius=0.0,
        ),
    ],
)
MARGINS = Margins.of_map(PACK.maps[CONTINENT], fastest=PACK.player.run_speed)


@dataclass
class Pair:
    a: Space
    b: Space
    tick_a: int = 0
    tick_b: int = 5000  # no global tick: B's clock is far from A's
    last: tuple[SpaceFrame, SpaceFrame] | None = None  # the frames of the last step
    # Events each cell emitted ([a, b]), and those each received from the other to
    # deliver to its own players ([to a, to b]).
    emitted: tuple[list[Event], list[Event]] = field(default_factory=lambda: ([], []))
    across: tuple[list[Event], list[Event]] = field(default_factory=lambda: ([], []))
    handed: list[Handoff] = field(default_factory=list)  # every hand-over, in order

    def step(self, n: int = 1) -> list[tuple[FrameArrays, FrameArrays]]:
        """Step both cells n times, delivering what each sends to the other after each tick."""
        frames = []
        for _ in range(n):
            self.tick_a += 1
            self.tick_b += 1
            self.a.step(self.tick_a)
            self.b.step(self.tick_b)
            self.last = (self.a.frames_to_send()[-1], self.b.frames_to_send()[-1])
            fa, fb = (FrameArrays.of(f) for f in self.last)
            for src, dst, tick in ((self.a, self.b, self.tick_a), (self.b, self.a, self.tick_b)):
                me = src.cell
                assert me is not None
                # Everything crosses as the bus carries it: msgpack bytes.
                for cell, rows in src.ghosts_to_send().items():
                    assert cell == dst.cell.cell  # type: ignore[union-attr]
                    batch = _wire(GhostBatch.of(0, me.partition.version, me.cell, tick, rows))
                    dst.receive_ghosts(me.cell, batch.version, batch.source_tick, batch.rows())
                for handoff in src.handoffs_to_send():
                    self.handed.append(handoff)
                    assert dst.take_handoff(_wire(handoff))
                for hit in src.hits_to_send():
                    dst.receive_hit(_wire(hit))
                events = src.events_to_emit()
                self.emitted[src is self.b].extend(events)
                for cell, mine in src.events_across(events).items():
                    assert cell == dst.cell.cell  # type: ignore[union-attr]
                    self.across[src is self.a].extend(_wire(CellEvents(0, me.cell, mine)).events)
                for cell, said in src.speech_across(events).items():
                    assert cell == dst.cell.cell  # type: ignore[union-attr]
                    for heard in said:
                        dst.hear(_wire(heard))
            frames.append((fa, fb))
        return frames


def _wire(message: CellMessage) -> Any:
    """The message after a trip over the bus."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(message), type=CellMessage)


def _pair(pack: object = WOLVES, partition_id: int = 0) -> Pair:
    p = Partition.single(Rect(0, 0, 2048, 2048)).split(1, Axis.X, BORDER)
    a = Space(
        pack,
        CONTINENT,
        instance_id=11,
        seed=1,
        item_ids=(1, 100),
        cell=(p, 1, MARGINS),
        partition_id=partition_id,
    )  # type: ignore[arg-type]
    b = Space(
        pack,
        CONTINENT,
        instance_id=12,
        seed=2,
        item_ids=(100, 200),
        cell=(p, 2, MARGINS),
        partition_id=partition_id,
    )  # type: ignore[arg-type]
    return Pair(a, b)


def _player(cid: int, x: float, y: float = 300.0) -> PlayerState:
    return PlayerState(cid, f"p{cid}", 5, 180, CONTINENT, x, y, 0.0, 0.0)


def _seen_by(frame: FrameArrays, observer: int) -> dict[int, int]:
    """Entity id -> kind, of what ``observer`` sees in a frame."""
    i = int(np.flatnonzero(frame.observers == observer)[0])
    rows = frame.visible[frame.offsets[i] : frame.offsets[i + 1]]
    return dict(zip(frame.ids[rows].tolist(), frame.kinds[rows].tolist(), strict=True))


def test_each_cell_spawns_its_own_creatures_with_ids_of_its_own() -> None:
    """A spawn belongs to the cell containing it; creature ids never collide across cells."""
    pair = _pair()
    ids_a = {i for i in pair.a.world.store.slot_of if i < 0}
    ids_b = {i for i in pair.b.world.store.slot_of if i < 0}
    assert len(ids_a) == 1
    assert len(ids_b) == 1
    assert not ids_a & ids_b


def test_a_player_near_the_border_sees_across_it_with_the_real_ids() -> None:
    """The wolf owned by B appears, as a creature with its real id, in the frame A builds."""
    pair = _pair()
    pair.a.add_player(_player(1, BORDER - 20.0))
    wolf_b = next(i for i in pair.b.world.store.slot_of if i < 0)
    frames = pair.step(3)
    seen = _seen_by(frames[-1][0], 1)
    assert seen.get(wolf_b) == Kind.CREATURE
    assert (
        pair.a.world.store.cols["kind"][pair.a.world.store.slot_of[wolf_b]] == Kind.GHOST_CREATURE
    )


def test_walking_over_the_border_changes_owner_once_and_frames_continue() -> None:
    """A walker crosses A -> B seamlessly: one hand-over, its input seq kept, and a
    watcher in A sees it in every frame, before, during and after."""
    pair = _pair(PACK)
    pair.a.add_player(_player(1, BORDER - 10.0))
    pair.a.add_player(_player(2, BORDER - 40.0))  # the watcher
    pair.step(25)  # past the minimum stay
    x, seq, client_ms = BORDER - 10.0, 0, 0
    owners = []
    for _ in range(60):
        x += 0.3
        seq += 1
        client_ms += 50
        mv = Move(x, 300.0, 0.0, 0.0, client_ms, seq)
        # The gateway sends to the cell it knows; the old owner would forward (tested in
        # the cluster suite): here the walker's current owner gets it.
        owner = pair.a if 1 in pair.a.world.players else pair.b
        owner.receive_input(1, mv)
        fa, fb = pair.step()[0]
        owners.append("a" if 1 in pair.a.world.players else "b")
        assert 1 in _seen_by(fa, 2), "the watcher lost sight of the walker"
        assert (1 in fa.observers.tolist()) != (1 in fb.observers.tolist())
    assert owners[0] == "a"
    assert owners[-1] == "b"
    assert sum(1 for p, n in itertools.pairwise(owners) if p != n) == 1
    assert pair.b.world.players[1].last_seq == seq
    assert pair.b.player_state(1).x > BORDER + MARGINS.cross


def test_a_gateway_replicates_both_cells_as_one_world_across_a_crossing() -> None:
    """Frames of both cells name the continent: one gateway replicator takes them all,
    so the walker's client and the watcher's apply every frame in sequence (no gap,
    no keyframe needed, no reset after the first) and never lose each other."""
    pair = _pair(PACK, partition_id=7)
    pair.a.add_player(_player(1, BORDER - 10.0))
    pair.b.add_player(_player(2, BORDER + 40.0))  # the watcher, on the other side
    fanout = Fanout()
    clients = {1: EntityTable(), 2: EntityTable()}
    resets = {1: 0, 2: 0}
    x, seq, client_ms = BORDER - 10.0, 0, 0
    crossed = False
    for i in range(90):
        if i >= 25:  # past the minimum stay, the walker heads east
            x += 0.3
            seq += 1
            client_ms += 50
            owner = pair.a if 1 in pair.a.world.players else pair.b
            owner.receive_input(1, Move(x, 300.0, 0.0, 0.0, client_ms, seq))
        pair.step()
        assert pair.last is not None
        for frame in pair.last:
            assert frame.continent == 7
            for cid, data in fanout.frame(frame, deliverable=lambda c: True):
                resets[cid] += msgspec.msgpack.decode(data)["reset"]
                assert clients[cid].apply(data), f"client {cid} saw a gap"
        assert len(fanout.replicators) == 1
        crossed = crossed or 1 in pair.b.world.players
        if i >= 2:  # ghosts arrive one tick after their owner's
            assert 2 in clients[1].rows
            assert 1 in clients[2].rows
    assert crossed
    assert resets == {1: 1, 2: 1}


def test_a_hit_on_a_ghost_is_applied_once_by_its_owner() -> None:
    """A player in A attacking B's wolf across the border: the ghost in A is untouched,
    the real wolf in B loses hp, once per swing."""
    pair = _pair()
    wolf_b = next(i for i in pair.b.world.store.slot_of if i < 0)
    b_store = pair.b.world.store
    # The wolf stands just inside B, the player just inside A: within melee reach.
    b_store.cols["x"][b_store.slot_of[wolf_b]] = BORDER + 1.0
    b_store.cols["aggro"][b_store.slot_of[wolf_b]] = 0.0  # it does not come over
    pair.a.add_player(_player(1, BORDER - 1.0))
    pair.step(2)
    hp0 = int(b_store.cols["hp"][b_store.slot_of[wolf_b]])
    pair.a.receive_input(1, Attack(wolf_b))
    pair.step(40)
    hp1 = int(b_store.cols["hp"][b_store.slot_of[wolf_b]])
    swings = -(-40 // pair.a.world.ticks(PACK.player.attack_speed))
    assert hp1 < hp0
    assert hp0 - hp1 <= swings * PACK.player.melee_damage


def test_a_kill_across_the_border_is_told_and_looted_where_the_killer_is() -> None:
    """A player in A kills B's wolf through its ghost: B, the wolf's owner, rolls the
    loot for that player and sends its death and the loot to A, which delivers them
    (nothing about it is emitted for A's player by B itself, nor twice)."""
    pair = _pair()
    pair.b.add_item_ids(100, 200)
    wolf_b = next(i for i in pair.b.world.store.slot_of if i < 0)
    b_store = pair.b.world.store
    b_store.cols["x"][b_store.slot_of[wolf_b]] = BORDER + 1.0
    b_store.cols["aggro"][b_store.slot_of[wolf_b]] = 0.0
    b_store.cols["hp"][b_store.slot_of[wolf_b]] = 1  # one swing kills it
    pair.a.add_player(_player(1, BORDER - 1.0))
    pair.step(2)
    pair.a.receive_input(1, Attack(wolf_b))
    pair.step(10)
    died = [e for e in pair.across[0] if isinstance(e, Died)]
    assert [(e.entity_id, e.killer_id) for e in died] == [(wolf_b, 1)]
    loot = [e for e in pair.across[0] if isinstance(e, LootGranted)]
    assert loot
    assert all(e.character_id == 1 and e.source_id == wolf_b for e in loot)
    assert len({e.item_id for e in loot}) == len(loot)
    assert all(100 <= e.item_id < 200 for e in loot)  # ids from B's own block
    assert not pair.across[1]  # nothing of it went the other way


def test_a_creature_chases_its_attacker_over_the_border() -> None:
    """B's wolf sees a player standing in A (a ghost in B, within its aggro radius) and
    chases it over the border: it is handed to A with its chase and target, and bites
    the player there."""
    pair = _pair()
    wolf_b = next(i for i in pair.b.world.store.slot_of if i < 0)
    b_store = pair.b.world.store
    b_store.cols["x"][b_store.slot_of[wolf_b]] = BORDER + 0.5
    pair.step(25)  # past the wolf's minimum stay
    pair.a.add_player(_player(1, BORDER - 9.0))  # 9.5 from the wolf: it comes
    hp0 = pair.a.player_state(1).hp
    for _ in range(200):
        pair.step()
        a_store = pair.a.world.store
        slot = a_store.slot_of.get(wolf_b)
        if slot is not None and a_store.cols["kind"].item(slot) == Kind.CREATURE:
            break
    else:
        raise AssertionError("the wolf never crossed")
    a_store = pair.a.world.store
    assert a_store.cols["ai"].item(a_store.slot_of[wolf_b]) == Ai.CHASE
    pair.step(80)
    assert pair.a.player_state(1).hp < hp0


def test_say_and_yell_reach_as_far_on_the_other_side() -> None:
    """A player in A speaks near the border: B's players within say reach hear it (once),
    those beyond do not, and a yell carries 300 units into B too."""
    pair = _pair(PACK)
    pair.a.add_player(_player(1, BORDER - 5.0))
    pair.a.add_player(_player(2, BORDER - 20.0))  # in A, in reach
    pair.b.add_player(_player(3, BORDER + 20.0))  # in B, in say reach (25 from 1)
    pair.b.add_player(_player(4, BORDER + 100.0))  # in B, beyond say, within yell reach
    pair.step(2)
    pair.a.receive_input(1, Say("hello"))
    pair.step(3)
    heard = [e for e in pair.emitted[0] + pair.emitted[1] if isinstance(e, Chat)]
    assert sorted(r for e in heard for r in e.recipients) == [1, 2, 3]
    pair.a.receive_input(1, Say("HELLO", yell=True))
    pair.step(3)
    yelled = [e for e in pair.emitted[0] + pair.emitted[1] if isinstance(e, Chat) and e.yell]
    assert sorted(r for e in yelled for r in e.recipients) == [1, 2, 3, 4]


def test_a_hand_over_of_an_unknown_shape_or_a_second_time_is_refused() -> None:
    """A repeated hand-over, or one whose row is not an entity row, changes nothing."""
    pair = _pair(PACK)
    pair.step(MARGINS.min_stay)
    pair.a.add_player(_player(1, BORDER + 50.0))  # placed on B's side: it crosses at once
    pair.a.step(pair.tick_a + 1)
    (handoff,) = pair.a.handoffs_to_send()
    assert pair.b.take_handoff(handoff)
    assert not pair.b.take_handoff(handoff)
    bad = msgspec.structs.replace(handoff, entity_id=99, row={**handoff.row, "kind": 7})
    assert not pair.b.take_handoff(bad)
    assert 99 not in pair.b.world.store.slot_of
    assert pair.b.cell is not None
    assert pair.b.cell.refused == 2


def test_a_player_seated_again_outranks_the_ghost_of_its_old_body() -> None:
    """A's ghost of a player has a high ownership version (it crossed often before its
    cell's node died). The player is seated again from its save in B, on A's side:
    B hands it to A at once. With its new seat's claim the hand-over is taken; an
    unclaimed body (version 0) is refused as older than the ghost."""
    for claimed in (True, False):
        pair = _pair(PACK)
        pair.step(2)
        ghost = GhostRows.of(
            id=np.array([9]),
            kind=np.array([Kind.PLAYER]),
            template=np.array([5]),
            x=np.array([BORDER + 2.0]),
            y=np.array([300.0]),
            z=np.array([0.0]),
            o=np.array([0.0]),
            hp=np.array([100]),
            max_hp=np.array([180]),
            flags=np.array([0]),
            version=np.array([7]),
        )
        version = pair.a.cell.partition.version  # type: ignore[union-attr]
        assert pair.a.receive_ghosts(2, version, 10_000, ghost)
        pair.step(1)
        held = pair.a.world.store.slot_of[9]
        assert pair.a.world.store.cols["kind"].item(held) == Kind.GHOST_PLAYER
        pair.b.add_player(_player(9, BORDER - 10.0))
        if claimed:
            pair.b.claim(9, 3 << 24)
        handoffs = []
        for tick in range(pair.tick_b + 1, pair.tick_b + 40):
            pair.b.step(tick)
            handoffs += pair.b.handoffs_to_send()
            if handoffs:
                break
        (handoff,) = handoffs
        assert pair.a.take_handoff(_wire(handoff)) is claimed
        assert (9 in pair.a.world.players) is claimed


def test_a_cell_restored_under_a_moved_border_hands_out_what_is_no_longer_its() -> None:
    """A cell's checkpoint taken before its border moved, restored under the new
    layout: at its first tick the player and the wolf on the strip it gave up are
    handed to the neighbour; what is still inside stays."""
    pair = _pair()
    pair.a.add_player(_player(1, BORDER - 60.0))
    pair.a.add_player(_player(2, BORDER - 300.0))
    pair.step(3)
    layout = pair.a.cell.partition  # type: ignore[union-attr]
    moved = layout.move("", BORDER - 100.0, MARGINS.min_cell)
    restored = Space.restore(WOLVES, pair.a.snapshot(), cell=(moved, 1, MARGINS))
    pair.b.relayout(moved)
    pair.a = restored
    pair.step()
    assert set(pair.a.world.players) == {2}
    assert 1 in pair.b.world.players
    a_wolves = pair.a.creatures_standing().get(WOLF, [])
    b_wolves = pair.b.creatures_standing().get(WOLF, [])
    assert [x for x, _ in a_wolves] == []  # its wolf stood at BORDER - 30: handed over
    assert sorted(round(x) for x, _ in b_wolves) == [round(BORDER - 30.0), round(BORDER + 30.0)]


def _wolves_by_cell(pair: Pair) -> tuple[list[int], list[int]]:
    """The ids of the wolves each cell owns."""

    def ids(space: Space) -> list[int]:
        st = space.world.store
        return sorted(int(st["id"][s]) for s in st.live(Kind.CREATURE).tolist())

    return ids(pair.a), ids(pair.b)


def _walk_a_wolf_over(pair: Pair) -> int:
    """Cell A's wolf stands past the border until A hands it to B; its id."""
    st = pair.a.world.store
    slot = int(st.live(Kind.CREATURE)[0])
    wolf = int(st["id"][slot])
    for _ in range(2 * MARGINS.min_stay):
        if wolf not in _wolves_by_cell(pair)[0]:
            break
        st = pair.a.world.store
        slot = st.slot_of[wolf]
        st["x"][slot] = st["home_x"][slot] = st["dest_x"][slot] = BORDER + 10.0
        pair.step()
    assert wolf in _wolves_by_cell(pair)[1]
    return wolf


def test_a_content_switch_in_one_cell_keeps_the_creatures_it_holds_of_other_cells() -> None:
    """A wolf of cell A's spawn walked into cell B: B switching content alone (a
    restore, a patch heard first) keeps it; nothing is spawned or removed."""
    pair = _pair()
    wolf = _walk_a_wolf_over(pair)
    before = _wolves_by_cell(pair)
    pair.b.apply_content(WOLVES)
    pair.a.apply_content(WOLVES)
    assert _wolves_by_cell(pair) == before
    assert wolf in before[1]


def test_a_count_raised_by_a_patch_is_spawned_once_by_the_cell_of_the_spawn() -> None:
    """Cell A's spawn goes from 1 to 3 wolves while its wolf stands in cell B: A
    spawns the 2 more, B keeps A's wolf; B's own spawn is unchanged. Disabled, the
    spawn loses its wolves in both cells."""
    pair = _pair()
    wolf = _walk_a_wolf_over(pair)
    a_spawn, b_spawn = WOLVES.spawns
    more = msgspec.structs.replace(
        WOLVES, spawns=[msgspec.structs.replace(a_spawn, count=3), b_spawn]
    )
    pair.a.apply_content(more)
    pair.b.apply_content(more)
    in_a, in_b = _wolves_by_cell(pair)
    assert len(in_a) == 2
    assert len(in_b) == 2
    assert wolf in in_b
    pair.b.apply_content(msgspec.structs.replace(WOLVES, spawns=[b_spawn]))
    pair.a.apply_content(msgspec.structs.replace(WOLVES, spawns=[b_spawn]))
    in_a, in_b = _wolves_by_cell(pair)
    assert in_a == []
    assert wolf not in in_b
    assert len(in_b) == 1


def test_a_cells_older_incarnation_cannot_hit_through_the_world_node() -> None:
    """A hit on B's wolf stamped by cell A's incarnation 4, after B heard from A's
    incarnation 5 (A was restored elsewhere while the old one still runs): B's world
    node drops it; the same hit from incarnation 5 lands."""
    from realmkit.nodes.world.runner import SpaceRunner
    from realmkit.protocol.cells import GhostHit

    pair = _pair()
    pair.a.add_player(_player(1, BORDER - 10.0))
    pair.step(3)  # the player is a ghost in B
    runner = SpaceRunner(pair.b, 12, 20, None, None, None, None, "world-b")  # type: ignore[arg-type]
    runner.incarnations.heard(1, 5)
    wolf = _wolves_by_cell(pair)[1][0]
    hp = lambda: int(pair.b.world.store["hp"][pair.b.world.store.slot_of[wolf]])  # noqa: E731
    full = hp()
    stale = GhostHit(0, 2, wolf, 7, 1, source_cell=1, epoch=4)
    runner.from_cell(stale)
    assert hp() == full
    runner.from_cell(msgspec.structs.replace(stale, epoch=5))
    assert hp() == full - 7


def test_a_cell_restored_from_before_a_hand_over_drops_its_older_copy() -> None:
    """Cell A's checkpoint holds its wolf; then A hands the wolf to B and A's node
    dies. A restored from that checkpoint holds the wolf again, under an older
    ownership version than B's: seeing B's ghost of it, A drops its copy, so the
    wolf has one owner (B) and A shows it as a ghost."""
    pair = _pair()
    pair.step(3)
    checkpoint = pair.a.snapshot()
    wolf = _walk_a_wolf_over(pair)
    layout = pair.a.cell.partition  # type: ignore[union-attr]
    pair.a = Space.restore(WOLVES, checkpoint, cell=(layout, 1, MARGINS))
    assert wolf in _wolves_by_cell(pair)[0]  # the older copy, back
    pair.step(3)
    in_a, in_b = _wolves_by_cell(pair)
    assert wolf not in in_a
    assert wolf in in_b
    st = pair.a.world.store
    assert st["kind"][st.slot_of[wolf]] == Kind.GHOST_CREATURE


def test_a_creature_sent_again_to_a_cell_restored_from_before_it_took_it_is_taken_once() -> None:
    """Cell B's checkpoint predates A's hand-over of a wolf; B's node dies and B is
    restored from it, without the wolf. A sends the hand-over again: B takes it,
    once (the same again is refused), and the wolf has one owner."""
    pair = _pair()
    pair.step(3)
    checkpoint = pair.b.snapshot()
    wolf = _walk_a_wolf_over(pair)
    handoff = next(h for h in pair.handed if h.entity_id == wolf)
    layout = pair.b.cell.partition  # type: ignore[union-attr]
    pair.b = Space.restore(WOLVES, checkpoint, cell=(layout, 2, MARGINS))
    assert wolf not in _wolves_by_cell(pair)[1]  # lost with the node, until sent again
    again = _wire(msgspec.structs.replace(handoff, again=True))
    assert pair.b.take_handoff(again)
    assert not pair.b.take_handoff(again)
    pair.step(3)
    in_a, in_b = _wolves_by_cell(pair)
    assert wolf in in_b
    assert wolf not in in_a


def test_a_cell_spawned_afresh_refuses_creatures_of_its_own_spawns_sent_again() -> None:
    """Cell B loaded again without any checkpoint spawned every creature of its own
    spawns: a wolf of one of them sent again would be one too many, and is refused;
    a wolf of A's spawn sent again is taken."""
    pair = _pair()
    wolf = _walk_a_wolf_over(pair)
    from_a = next(h for h in pair.handed if h.entity_id == wolf)
    b_spawn = WOLVES.spawns[1]
    layout = pair.b.cell.partition  # type: ignore[union-attr]
    fresh = Space(WOLVES, CONTINENT, instance_id=12, seed=3, cell=(layout, 2, MARGINS))  # type: ignore[arg-type]
    assert fresh.cell is not None
    fresh.cell.spawned_fresh = True
    own = msgspec.structs.replace(
        from_a,
        entity_id=from_a.entity_id + 10_000,
        spawn=(b_spawn.template, b_spawn.at.x, b_spawn.at.y, b_spawn.at.z, b_spawn.name, 0),
        again=True,
    )
    assert not fresh.take_handoff(_wire(own))
    assert fresh.take_handoff(_wire(msgspec.structs.replace(from_a, again=True)))


def test_the_events_of_the_tick_a_player_is_handed_out_are_its_old_cells() -> None:
    """The tick that hands a player out still sends it that tick's frame from its old
    cell, whose world node still routes it: that tick's events for it go from there,
    not also to the new cell (the client would hear them twice). From the next tick,
    events the old cell makes for it go to its new cell."""
    pair = _pair(PACK)
    pair.a.add_player(_player(1, BORDER - 10.0))
    pair.step(25)  # past the minimum stay
    x, seq, client_ms = BORDER - 10.0, 0, 0
    while 1 in pair.a.world.players:
        x += 0.3
        seq += 1
        client_ms += 50
        pair.a.receive_input(1, Move(x, 300.0, 0.0, 0.0, client_ms, seq))
        pair.tick_a += 1
        pair.a.step(pair.tick_a)
        assert x < BORDER + 30.0, "never handed out"
    said = Corrected(1, x, 300.0, 0.0, 0.0, seq, "release")
    assert pair.a.events_across([said]) == {}
    pair.tick_a += 1
    pair.a.step(pair.tick_a)
    assert pair.a.events_across([said]) == {2: [said]}
