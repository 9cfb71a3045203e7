"""A space that is one cell of a continent: its ghosts, border rows and hand-overs. No I/O.

``CellRole`` is what a space knows of its place in the partition. Within a
tick (``Space.step``), after the rules ran:

1. ``take_ghosts``: the ghost table's rows become ghost slots (new ids
   allocated, gone ids released, the rest updated in place: slots are stable,
   so the interest grid's hysteresis holds for ghosts too); then the frame;
2. ``hand_out``: every owned entity that crossed (``realmkit.cells.border``)
   leaves as a ``Handoff`` (its whole row, a creature's target as an
   entity id, a player's record) for the new owner. A player handed out had
   this tick's frame from here and has its next from the new owner. The
   entity stays here as a ghost at its last state until the new owner's
   ghosts replace it, so observers here see no gap;
3. ``border_rows`` lists what each neighbour must ghost.

``take_in`` makes a hand-over real here: a creature keeps its AI state and
target, a player its record (its input sequence, cooldowns, granted items);
the ownership version must be above any this cell holds for the id, so a
repeated or stale hand-over is refused (CELLS.md case 1).

Hits on a ghost (a creature chasing across the border, a player's swing) are
not applied here: they are queued as ``GhostHit`` for the ghost's owner,
which applies them once (case 7). What the owner's rules then produce for a
player owned elsewhere (its kill, the loot it rolled for it) goes to that
player's cell (``events_across``), which delivers it. Speech reaches as far
on both sides: a cell whose area is within reach of the speaker hears it
(``speech_across``) and tells its own players in reach (``hear``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import numpy as np
from numpy.typing import NDArray

from realmkit.cells.border import Margins, crossings, ghost_targets
from realmkit.cells.ghosts import Forwards, GhostRows, Ghosts
from realmkit.cells.partition import Partition
from realmkit.content.schema import ContentPack
from realmkit.protocol.cells import GhostHit, HandedPlayer, Handoff, Heard
from realmkit.protocol.events import Chat, Event, concerned
from realmkit.sim.creatures import Ai
from realmkit.sim.movement import start_track
from realmkit.sim.state import PlayerRecord
from realmkit.sim.store import COLUMNS, GHOST_OFFSET, Kind
from realmkit.sim.world import SpawnKey, World

IntArray = NDArray[np.int64]

# Columns a ghost copies from its owner (the rest stay at their empty values).
_SHOWN = ("id", "template", "x", "y", "z", "o", "hp", "max_hp", "flags", "version")
# Columns that hold a tick of the owner's clock (CELLS.md case 3).
_TICKS = ("next_swing", "respawn_at")
# Kinds and the dead state as plain ints for the per-tick array work: numpy compares an
# array with an IntEnum member 3-4 us slower a call (it looks the member up for
# array hooks through the Enum class's Python-level __getattr__).
_PLAYER, _CREATURE = int(Kind.PLAYER), int(Kind.CREATURE)
_GHOST_PLAYER, _DEAD = int(Kind.GHOST_PLAYER), int(Ai.DEAD)


@dataclass
class CellRole:
    """A space's place in its continent's partition."""

    partition: Partition
    cell: int
    margins: Margins
    partition_id: int = 0  # the continent's partition, named on every message
    ghosts: Ghosts = field(init=False)
    forwards: Forwards = field(default_factory=Forwards)
    handoffs: list[Handoff] = field(default_factory=list)
    # Entities handed out, kept as ghosts until their new owner's ghosts come:
    # id -> (new owner, tick handed).
    leaving: dict[int, tuple[int, int]] = field(default_factory=dict)
    hits: list[GhostHit] = field(default_factory=list)
    refused: int = 0  # hand-overs refused (stale version, already here)
    stale_dropped: int = 0  # creatures dropped as older copies of a neighbour's
    # After a change of partition: hand out, at the next tick, whatever the new
    # layout gives to another cell, hysteresis and minimum stay aside.
    relayout_due: bool = False
    # Seconds the tick spent on ghosts and hand-overs (``bench/cells.py``), and of
    # those on finding and taking out the entities to hand over.
    work_seconds: float = 0.0
    handout_seconds: float = 0.0
    # Loaded again without a checkpoint, it spawned every creature of its own spawns:
    # a creature of one of those sent again by a neighbour is one too many.
    spawned_fresh: bool = False

    def __post_init__(self) -> None:
        self.ghosts = Ghosts(self.partition.version)


def hand_out(world: World, role: CellRole) -> list[Handoff]:
    """Take out every owned entity that crossed this tick; returns the hand-overs."""
    st = world.store
    kinds = st["kind"]
    # Over every slot, masked: cheaper than taking the owned ones out first.
    owned = (kinds == _PLAYER) | (kinds == _CREATURE)
    if not owned.any():
        return []
    x, y = st["x"], st["y"]
    if role.relayout_due or retired(role):
        role.relayout_due = False
        to_all = role.partition.cells_at(x, y)
        index = np.flatnonzero(owned & (to_all != role.cell))
        to = to_all[index]
    else:
        index, to = crossings(
            role.partition, role.cell, role.margins, x, y, owned, st["arrived"], world.tick
        )
    if index.size == 0:
        return []  # the usual tick
    # Players first, then creatures, each by slot: the receiver's slots follow this order.
    order = np.argsort(kinds[index] != _PLAYER, kind="stable")
    out = [
        _take_out(world, role, slot, to_cell)
        for slot, to_cell in zip(index[order].tolist(), to[order].tolist(), strict=True)
    ]
    role.handoffs.extend(out)
    return out


def _take_out(world: World, role: CellRole, slot: int, to_cell: int) -> Handoff:
    st = world.store
    c = st.cols
    entity_id = int(c["id"][slot])
    version = int(c["version"][slot]) + 1
    row = {name: c[name].item(slot) for name in COLUMNS}
    target = int(c["target"][slot])
    row["target"] = int(c["id"][target]) if target >= 0 else 0
    row["version"] = version
    for name in _TICKS:
        row[name] -= world.tick
    spawn = int(c["spawn"][slot])
    record = world.players.pop(entity_id, None)
    player = None if record is None else _handed(record, world.tick)
    # It stays as a ghost at its last state until the new owner's ghosts come.
    c["kind"][slot] = int(c["kind"][slot]) + GHOST_OFFSET
    c["version"][slot] = version
    c["target"][slot] = -1
    st["target"][st["target"] == slot] = -1  # creatures here lose it as a target
    role.leaving[entity_id] = (to_cell, world.tick)
    role.forwards.handed(entity_id, to_cell, world.tick)
    key = tuple(world.spawn_keys[spawn]) if spawn >= 0 else None
    return Handoff(
        role.partition_id,
        role.partition.version,
        entity_id,
        role.cell,
        to_cell,
        version,
        row,
        player,
        key,  # type: ignore[arg-type]  # a SpawnKey is that tuple
    )


def _handed(rec: PlayerRecord, now: int) -> HandedPlayer:
    return HandedPlayer(
        character_id=rec.character_id,
        name=rec.name,
        level=rec.level,
        last_seq=rec.last_seq,
        attack_target=rec.attack_target,
        swing_in=rec.next_swing - now,
        cooldowns_in={s: t - now for s, t in rec.cooldowns.items()},
        inputs=list(rec.inputs),
        granted_items=list(rec.granted_items),
        dirty=rec.dirty,
        in_portal=rec.in_portal,
        dropped_inputs=rec.dropped_inputs,
        team=rec.team,
    )


def _taken(p: HandedPlayer, slot: int, world: World) -> PlayerRecord:
    c = world.store.cols
    x, y, z = float(c["x"][slot]), float(c["y"][slot]), float(c["z"][slot])
    now = world.tick
    return PlayerRecord(
        character_id=p.character_id,
        name=p.name,
        level=p.level,
        slot=slot,
        # A fresh track: the movement check's clocks are this cell's now.
        track=start_track(x, y, z, world.time_ms(now)),
        last_seq=p.last_seq,
        attack_target=p.attack_target,
        next_swing=p.swing_in + now,
        cooldowns={s: t + now for s, t in p.cooldowns_in.items()},
        inputs=list(p.inputs),
        granted_items=list(p.granted_items),
        dirty=p.dirty,
        in_portal=p.in_portal,
        dropped_inputs=p.dropped_inputs,
        team=p.team,
    )


def take_in(world: World, role: CellRole, handoff: Handoff) -> bool:
    """Make a hand-over's entity real here; False (nothing changed) if it is stale."""
    st = world.store
    c = st.cols
    if handoff.row.get("kind") not in (Kind.PLAYER, Kind.CREATURE) or set(handoff.row) != set(
        COLUMNS
    ):
        role.refused += 1  # not a row this build can take: refused, nothing changed
        return False
    if handoff.again and role.spawned_fresh and handoff.spawn is not None:
        key = SpawnKey(*handoff.spawn)
        if role.partition.cell_at(key.x, key.y) == role.cell:
            role.refused += 1  # its spawn's creatures were all spawned here afresh
            return False
    slot = st.slot_of.get(handoff.entity_id)
    if slot is not None:
        held_kind = c["kind"].item(slot)
        if (
            held_kind in (Kind.PLAYER, Kind.CREATURE)
            or int(c["version"][slot]) >= handoff.ownership
        ):
            role.refused += 1
            return False
        st.release(slot)
        world.grid.forget(slot)  # hysteresis memory of a ghost slot; it is seen again at once
    kind = Kind(int(handoff.row["kind"]))
    slot = st.alloc(handoff.entity_id, kind)
    for name in COLUMNS:
        if name not in ("id", "kind", "target"):
            c[name][slot] = handoff.row[name]
    for name in _TICKS:
        c[name][slot] += world.tick
    c["spawn"][slot] = -1 if handoff.spawn is None else world.intern_spawn(SpawnKey(*handoff.spawn))
    target = st.slot_of.get(int(handoff.row["target"]), -1) if handoff.row["target"] else -1
    c["target"][slot] = target
    if kind is Kind.CREATURE and target < 0 and c["ai"].item(slot) == Ai.CHASE:
        c["ai"][slot] = Ai.EVADE  # its target is nowhere near: go home
    if handoff.player is not None:
        world.players[handoff.entity_id] = _taken(handoff.player, slot, world)
    c["arrived"][slot] = world.tick
    role.leaving.pop(handoff.entity_id, None)
    role.forwards.taken_back(handoff.entity_id)
    return True


def take_ghosts(world: World, role: CellRole) -> None:
    """Make the ghost table the store's ghost slots (see the module docstring)."""
    st = world.store
    c = st.cols
    rows = role.ghosts.rows()
    ids = rows.ids
    slots = np.array([st.slot_of.get(i, -1) for i in ids.tolist()], dtype=np.int64)
    kinds = st["kind"]
    # An id held as real here (a hand-over under way) is not shown as a ghost.
    real = slots >= 0
    real[real] = kinds[slots[real]] <= _CREATURE
    if real.any():
        # Unless it is a creature a neighbour owns under a higher ownership version:
        # this cell's copy is older (restored from a checkpoint taken before it
        # handed the creature over) and goes; the neighbour's is shown as a ghost.
        both = np.flatnonzero(real)
        stale = both[
            (kinds[slots[both]] == _CREATURE)
            & (rows.cols["version"][both] > c["version"][slots[both]])
        ]
        if stale.size:
            st.release_many(slots[stale])
            world.grid.forget_many(slots[stale])
            role.stale_dropped += int(stale.size)
            real[stale], slots[stale] = False, -1
            kinds = st["kind"]
    if real.any():
        rows, ids, slots = rows.take(~real), ids[~real], slots[~real]
    new = slots < 0
    held = kinds >= _GHOST_PLAYER
    # Each of the table's ids held here is a ghost slot, so a ghost slot can be gone
    # only when there are more of them than those (most ticks there are not).
    if np.count_nonzero(held) > slots.size - np.count_nonzero(new):
        shown = np.zeros(st.size, dtype=bool)
        shown[slots[~new]] = True
        gone = np.flatnonzero(held & ~shown)
        gone = gone[[not _still_leaving(role, int(i), world.tick) for i in st["id"][gone]]]
        if gone.size:
            st.release_many(gone)
            world.grid.forget_many(gone)
    if new.any():
        for kind in (_PLAYER, _CREATURE):
            index = np.flatnonzero(new & (rows.cols["kind"] == kind))
            # Slots are taken in the order of the ids (the same history, the same slots).
            index = index[np.argsort(ids[index])]
            if index.size:
                slots[index] = st.alloc_many(ids[index].tolist(), Kind(kind + GHOST_OFFSET))
    for name in _SHOWN:
        c[name][slots] = rows.cols[name]


def _still_leaving(role: CellRole, entity_id: int, now: int) -> bool:
    """Whether a handed-out entity's last state is still shown here: its new owner
    has sent no ghosts since the hand-over (and not for too long)."""
    leaving = role.leaving.get(entity_id)
    if leaving is None:
        return False
    to_cell, handed = leaving
    heard = role.ghosts.heard_at(to_cell)
    if (heard is not None and heard > handed) or now - handed > role.ghosts.stale_after:
        del role.leaving[entity_id]
        return False
    return True


def border_rows(world: World, role: CellRole) -> dict[int, GhostRows]:
    """What each neighbour must ghost: the owned entities within its margin (dead
    creatures are unseen, so not sent)."""
    if retired(role):
        return {}  # it hands everything out; the cells that take it publish it
    st = world.store
    kinds = st["kind"]
    sent = (kinds == _PLAYER) | ((kinds == _CREATURE) & (st["ai"] != _DEAD))
    # Over every slot, then the ones sent: cheaper than taking those out first.
    targets = ghost_targets(role.partition, role.cell, role.margins, st["x"], st["y"])
    return {cell: GhostRows.gather(st.cols, index[sent[index]]) for cell, index in targets.items()}


def fastest(pack: ContentPack) -> float:
    """Units a second of the fastest mover of a pack (for the ghost margin)."""
    return max([pack.player.run_speed, *(t.move_speed for t in pack.creatures.values())])


def relayout(world: World, role: CellRole, partition: Partition) -> bool:
    """Run under a newer partition from the next tick (False: not newer). What the
    new layout gives to another cell is handed out then; a cell the layout no
    longer has (merged away) hands out everything and is left empty."""
    if partition.version <= role.partition.version:
        return False
    role.partition = partition
    role.ghosts.relayout(partition.version)
    role.relayout_due = True
    return True


def retired(role: CellRole) -> bool:
    """Whether the partition has no such cell any more (it only hands out)."""
    return role.cell not in role.partition.cells


def hit_ghost(world: World, role: CellRole, target: int, amount: int, attacker: int) -> None:
    """Queue damage to a ghost for its owner (never applied to the copy here)."""
    c = world.store.cols
    target_id = int(c["id"][target])
    owner = role.ghosts.owner(target_id) or role.forwards.where(target_id, world.tick)
    if owner is None:
        return  # a ghost left at hand-over whose new owner has not sent it yet
    role.hits.append(GhostHit(role.partition_id, owner, target_id, amount, int(c["id"][attacker])))


def hit_here(world: World, role: CellRole, hit: GhostHit) -> tuple[int, int] | None:
    """Where a remote hit lands: (target slot, attacker slot) if the target is owned
    here; else it is forwarded after its target (queued again) or dropped."""
    st = world.store
    target = st.slot_of.get(hit.target_id)
    if target is not None and st.cols["kind"].item(target) in (Kind.PLAYER, Kind.CREATURE):
        attacker = st.slot_of.get(hit.attacker_id)
        return None if attacker is None else (target, attacker)
    onward = role.forwards.route(hit.target_id, hit.hops, world.tick)
    if onward is not None:
        role.hits.append(msgspec.structs.replace(hit, owner_cell=onward, hops=hit.hops + 1))
    return None


def is_ghost(kinds: NDArray[np.int8]) -> NDArray[np.bool_]:
    mask: NDArray[np.bool_] = kinds >= Kind.GHOST_PLAYER
    return mask


def events_across(world: World, role: CellRole, events: list[Event]) -> dict[int, list[Event]]:
    """Per neighbour, the events of this tick that concern its players (seen here as
    ghosts, or handed out lately); speech aside (``speech_across``)."""
    st = world.store
    out: dict[int, list[Event]] = {}
    for event in events:
        if isinstance(event, Chat):
            continue
        cells = set()
        for cid in concerned(event):
            if cid in world.players:
                continue  # this cell's own player: delivered from here
            if role.leaving.get(cid, (0, -1))[1] == world.tick:
                # Handed out this very tick, after its frame from here: this tick's
                # events go with that frame, from here (its world node still routes it).
                continue
            slot = st.slot_of.get(cid)
            owner = None
            if slot is not None and st.cols["kind"].item(slot) == Kind.GHOST_PLAYER:
                owner = role.ghosts.owner(cid)
            owner = owner or role.forwards.where(cid, world.tick)
            if owner is not None:
                cells.add(owner)
        for cell in cells:
            out.setdefault(cell, []).append(event)
    return out


def speech_across(world: World, role: CellRole, events: list[Event]) -> dict[int, list[Heard]]:
    """Per neighbour within reach, what this cell's players said this tick."""
    st = world.store
    rules = world.pack.player
    out: dict[int, list[Heard]] = {}
    for event in events:
        if not isinstance(event, Chat) or event.speaker_id not in world.players:
            continue  # heard from a neighbour: its speaker's cell spread it already
        slot = world.players[event.speaker_id].slot
        x, y = float(st.cols["x"][slot]), float(st.cols["y"][slot])
        reach = rules.yell_range if event.yell else rules.say_range
        heard = Heard(
            role.partition_id, event.speaker_id, event.speaker_name, event.text, event.yell, x, y
        )
        for cell, rect in role.partition.cells.items():
            if cell != role.cell and rect.distance(x, y) <= reach:
                out.setdefault(cell, []).append(heard)
    return out


def hear(world: World, heard: Heard) -> None:
    """A neighbour's player spoke within reach of this cell: its players in reach
    hear it (a ``Chat`` event like one said here)."""
    recipients = world.hearers(heard.x, heard.y, heard.yell)
    if recipients:
        world.events.append(
            Chat(heard.speaker_id, heard.speaker_name, heard.text, heard.yell, recipients)
        )
