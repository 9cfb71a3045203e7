"""``Space``: one map instance, stepped by tick number, with no I/O.

The world node feeds it (``add_player``, ``receive_input``, ``add_item_ids``,
``step(tick)``) and drains what it produced (``frames_to_send``,
``events_to_emit``, ``saves_to_write``), each drain swapping the buffer out.
``snapshot()`` / ``Space.restore`` move a whole space to another process:
restoring then stepping gives exactly what stepping the original would.
``apply_content`` switches a running space to a patched version of its
content between two ticks (see ``realmkit.sim.spawns``).

Within a tick, in this order: each player's queued inputs (players in join
order, inputs in arrival order, at most ``MAX_INPUTS_PER_TICK`` each), the
creatures, the hits they land, players' auto-attacks, portals, the match's
win rule (``realmkit.sim.match``), then interest and the frame (when the
driver asks for one: ``frame_due``). Everything
random comes from one seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

import numpy as np

from realmkit.cells.border import Margins
from realmkit.cells.ghosts import GhostRows
from realmkit.cells.partition import Partition
from realmkit.content.schema import ContentPack
from realmkit.errors import AlreadyExists, InstanceFull, NotFound, TickOutOfOrder, UsageError
from realmkit.protocol.cells import GhostHit, Handoff, Heard
from realmkit.protocol.events import Event, PortalReached
from realmkit.protocol.frames import FrameArrays, SpaceFrame
from realmkit.protocol.inputs import ClientInput
from realmkit.sim import cell as cells
from realmkit.sim import match, spawns
from realmkit.sim import snapshot as snap
from realmkit.sim.actions import apply_input
from realmkit.sim.combat import auto_attacks, damage, grant_pending
from realmkit.sim.creatures import Ai, step_creatures
from realmkit.sim.loot import ItemIdPool
from realmkit.sim.movement import normalize_orientation, start_track
from realmkit.sim.state import PlayerRecord, PlayerState
from realmkit.sim.store import FLAG_DEAD, GHOST_OFFSET, Kind
from realmkit.sim.world import World

MAX_INPUTS_PER_TICK: Final = 8
MAX_QUEUED_INPUTS: Final = 64
MAX_LEVEL: Final = 100
# Creature ids of a cell are -(instance_id * CELL_CREATURE_BLOCK + n).
CELL_CREATURE_BLOCK: Final = 1 << 24


class Space:
    """One map instance. See the module docstring for the protocol."""

    def __init__(
        self,
        pack: ContentPack,
        map_id: int,
        *,
        instance_id: int = 0,
        seed: int = 0,
        item_ids: tuple[int, int] | None = None,
        cell: tuple[Partition, int, Margins] | None = None,
        partition_id: int = 0,
        populate: bool = True,
    ) -> None:
        if map_id not in pack.maps:
            raise NotFound("map", map_id)
        rng = np.random.Generator(np.random.PCG64(seed))
        self.world = World(pack, map_id, instance_id, rng)
        if cell is not None:
            self.place_in(*cell, partition_id=partition_id)
        if populate:  # a cell made by a split starts empty: its creatures are handed to it
            spawns.populate(self.world)
        if item_ids is not None:
            self.world.pool.add_block(*item_ids)
        self.world.ask_for_ids_if_low()
        self._frames: list[SpaceFrame] = []
        self._borders: dict[int, GhostRows] = {}
        # Measures a cell's ghost work (``CellRole.work_seconds``) when the driver
        # gives it a clock (the core reads none of its own).
        self.clock: Callable[[], float] = _no_clock

    # --- inputs ------------------------------------------------------------

    @property
    def tick(self) -> int:
        return self.world.tick

    @property
    def map_id(self) -> int:
        return self.world.map.id

    def add_player(self, state: PlayerState, team: int = 0) -> None:
        """Place a character in the space (its saved position, or the first spawn point).

        ``team`` is its side in a match (1-based; 0 for none): teammates cannot
        hurt each other and the space's win rule counts by team.
        """
        w = self.world
        if state.character_id <= 0:
            raise UsageError("character ids are positive", character_id=state.character_id)
        if team < 0:
            raise UsageError("teams are 1-based, 0 for none", team=team)
        if state.character_id in w.players:
            raise AlreadyExists("player", state.character_id)
        if len(w.players) >= w.map.max_players:
            raise InstanceFull(w.instance_id, w.map.max_players)
        level = min(max(state.level, 1), MAX_LEVEL)
        x, y, z, o = state.x, state.y, state.z, state.orientation
        b = w.map.bounds
        inside = all(math.isfinite(v) for v in (x, y, z, o)) and (
            b.min_x <= x <= b.max_x and b.min_y <= y <= b.max_y and b.min_z <= z <= b.max_z
        )
        if state.map_id != w.map.id or not inside:
            at = w.map.spawn_points[0].at
            x, y, z, o = at.x, at.y, at.z, at.o
        slot = w.store.alloc(state.character_id, Kind.PLAYER)
        c = w.store.cols
        max_hp = w.max_hp(level)
        hp = min(max(state.hp, 0), max_hp)
        c["x"][slot], c["y"][slot], c["z"][slot] = x, y, z
        c["o"][slot] = normalize_orientation(o)
        c["hp"][slot], c["max_hp"][slot] = hp, max_hp
        c["template"][slot] = level
        c["flags"][slot] = FLAG_DEAD if hp == 0 else 0
        w.players[state.character_id] = PlayerRecord(
            character_id=state.character_id,
            name=state.name,
            level=level,
            slot=slot,
            track=start_track(x, y, z, w.time_ms(w.tick)),
            granted_items=list(state.granted_items),
            team=team,
        )
        match.note_team(w, team)

    def spawn_team(self, name: str) -> int:
        """The team the map's spawn point ``name`` is for (0: any team)."""
        for point in self.world.map.spawn_points:
            if point.name == name:
                return point.team
        raise NotFound("spawn point", name)

    def spawn_point(self, name: str) -> tuple[float, float, float, float]:
        """Where the map's spawn point ``name`` puts a player (x, y, z, orientation)."""
        for point in self.world.map.spawn_points:
            if point.name == name:
                return point.at.x, point.at.y, point.at.z, point.at.o
        raise NotFound("spawn point", name)

    def remove_player(self, character_id: int) -> PlayerState:
        """Take a character out (leave, transfer); returns its final state."""
        w = self.world
        rec = w.players.pop(character_id, None)
        if rec is None:
            raise NotFound("player", character_id)
        state = self._state_of(rec)
        w.store.release(rec.slot)
        w.grid.forget(rec.slot)
        # Creatures that chased the leaver have lost their target (EVADE next tick);
        # other players' attack targets are checked when they swing.
        return state

    def receive_input(self, character_id: int, inp: ClientInput) -> bool:
        """Queue an input for the next tick; False (and counted) if dropped."""
        rec = self.world.players.get(character_id)
        if rec is None:
            return False
        if len(rec.inputs) >= MAX_QUEUED_INPUTS:
            rec.dropped_inputs += 1
            return False
        rec.inputs.append(inp)
        return True

    def add_item_ids(self, start: int, end: int) -> None:
        """A block ``[start, end)`` of cluster-unique item ids reserved for this space."""
        self.world.pool.add_block(start, end)
        grant_pending(self.world)

    def apply_content(self, pack: ContentPack) -> None:
        """Run ``pack`` (this content with other patches) from the next tick on.

        Call between two ``step`` calls. Creatures take the new template
        values (living ones keep their fraction of hp), spawns the pack drops
        or adds lose or gain their creatures, counts are met; players keep
        their state. Raises ContentError, changing nothing, if ``pack`` lacks
        this space's map or a creature or loot table its spawns need.
        """
        spawns.switch(self.world, pack)

    # --- the tick ----------------------------------------------------------

    def step(self, tick: int, *, frame: bool = True) -> None:
        """Run one tick. Ticks must increase; a skipped tick number is simply not simulated.

        ``frame``: build this tick's frame for the gateways (``frames_to_send``).
        The world node asks for one on the ticks of the map's frame rate
        (``frame_due``); a tick without a frame also skips the interest update.
        """
        w = self.world
        if tick <= w.tick:
            raise TickOutOfOrder(tick, w.tick)
        w.tick = tick
        first_event = len(w.events)
        for rec in w.players.values():
            todo, rec.inputs = rec.inputs[:MAX_INPUTS_PER_TICK], rec.inputs[MAX_INPUTS_PER_TICK:]
            for inp in todo:
                apply_input(w, rec, inp)
        for creature, target in step_creatures(w):
            if w.store.cols["ai"].item(creature) == Ai.CHASE:
                damage(w, target, int(w.store.cols["damage"][creature]), creature)
        auto_attacks(w)
        self._portals()
        match.judge(w, w.events[first_event:])
        clock = self.clock
        if w.cell is not None:
            started = clock()
            cells.take_ghosts(w, w.cell)
            w.cell.work_seconds += clock() - started
        if frame:
            self._frames.append(self._frame())
        if w.cell is not None:
            started = clock()
            # After the frame: a player handed over this tick had its last frame
            # from here, and has its next from the new owner (no double).
            cells.hand_out(w, w.cell)
            w.cell.handout_seconds += clock() - started
            self._borders = cells.border_rows(w, w.cell)
            w.cell.ghosts.expire(w.tick)
            w.cell.forwards.expire(w.tick)
            w.cell.work_seconds += clock() - started

    def frame_due(self, tick: int) -> bool:
        """Whether tick ``tick`` carries a frame at the map's ``frame_rate`` (its
        tick numbers divisible by the ticks per frame)."""
        return tick % self.world.frame_every == 0

    def _portals(self) -> None:
        w = self.world
        st = w.store
        for rec in w.players.values():
            s = rec.slot
            x, y = float(st.cols["x"][s]), float(st.cols["y"][s])
            inside = next((p for p in w.map.portals if p.area.contains(x, y)), None)
            now = 0 if inside is None else inside.id
            if inside is not None and rec.in_portal != now and not st.cols["flags"][s] & FLAG_DEAD:
                w.events.append(
                    PortalReached(rec.character_id, inside.id, inside.to_map, inside.to_spawn)
                )
            rec.in_portal = now

    def _frame(self) -> SpaceFrame:
        w = self.world
        st = w.store
        players = np.array([r.slot for r in w.players.values()], dtype=np.int64)
        live = st.live().astype(np.int64)
        seen = live[~((st["kind"][live] == Kind.CREATURE) & (st["ai"][live] == Ai.DEAD))]
        obs, ent = w.grid.update(st["x"], st["y"], np.sort(players), seen)
        # Rows: everything seen by someone plus every observer's own entity.
        rows = np.unique(np.concatenate([ent, players]))
        row_of = np.full(st.size, -1, dtype=np.int64)
        row_of[rows] = np.arange(rows.size)
        order = np.argsort(players, kind="stable")
        sorted_players = players[order]
        counts = np.zeros(players.size, dtype=np.int64)
        if obs.size:
            idx, n = np.unique(obs, return_counts=True)
            counts[np.searchsorted(sorted_players, idx)] = n
        offsets = np.zeros(players.size + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(counts)
        recs = [w.players[int(i)] for i in st["id"][sorted_players]]
        arrays = FrameArrays(
            ids=st["id"][rows],
            kinds=np.where(
                st["kind"][rows] > Kind.CREATURE, st["kind"][rows] - GHOST_OFFSET, st["kind"][rows]
            ).astype(np.uint8),
            templates=st["template"][rows],
            pos=np.stack([st[k][rows] for k in ("x", "y", "z", "o")], axis=1).astype(np.float32),
            hp=st["hp"][rows],
            max_hp=st["max_hp"][rows],
            flags=st["flags"][rows],
            observers=st["id"][sorted_players],
            selves=row_of[sorted_players].astype(np.int32),
            acks=np.array([r.last_seq for r in recs], dtype=np.int64),
            offsets=offsets.astype(np.int32),
            visible=row_of[ent].astype(np.int32),
        )
        continent = w.cell.partition_id if w.cell is not None else 0
        return arrays.to_frame(w.instance_id, w.map.id, w.tick, continent, w.tick_rate)

    # --- a cell of a continent (realmkit.sim.cell) -------------------------

    def place_in(
        self, partition: Partition, cell: int, margins: Margins, *, partition_id: int = 0
    ) -> None:
        """Run as cell ``cell`` of ``partition``: from construction it populates only the
        spawns in the cell, with creature ids from the block of its instance id; a
        restored checkpoint of a cell is placed again with this before its first tick."""
        partition.rect(cell)
        if self.world.instance_id <= 0:
            raise UsageError("a cell needs its instance id", instance_id=self.world.instance_id)
        self.world.cell = cells.CellRole(partition, cell, margins, partition_id)
        self.world.creature_ids_from = self.world.instance_id * CELL_CREATURE_BLOCK

    @property
    def cell(self) -> cells.CellRole | None:
        return self.world.cell

    def receive_ghosts(self, source: int, version: int, source_tick: int, rows: GhostRows) -> bool:
        """A neighbour's border entities; False if fenced or out of order."""
        role = self._role()
        return role.ghosts.receive(source, version, source_tick, rows, self.world.tick)

    def relayout(self, partition: Partition) -> bool:
        """Run under a newer partition from the next tick: what it gives to another
        cell is handed out then (False: not newer, nothing changes)."""
        return cells.relayout(self.world, self._role(), partition)

    def forward_target(self, entity_id: int) -> int | None:
        """The cell an input or action for ``entity_id``, arriving here after its
        hand-over, must be forwarded to (None: unknown here, or no longer)."""
        return self._role().forwards.where(entity_id, self.world.tick)

    def take_handoff(self, handoff: Handoff) -> bool:
        """An entity a neighbour handed here becomes real (call between ticks)."""
        return cells.take_in(self.world, self._role(), handoff)

    def events_across(self, events: list[Event]) -> dict[int, list[Event]]:
        """Per neighbour cell, the events (of ``events_to_emit``) for its players."""
        return cells.events_across(self.world, self._role(), events)

    def speech_across(self, events: list[Event]) -> dict[int, list[Heard]]:
        """Per neighbour cell within reach, what this cell's players said."""
        return cells.speech_across(self.world, self._role(), events)

    def hear(self, heard: Heard) -> None:
        """A neighbour's player spoke within reach: emitted at the next tick's events."""
        cells.hear(self.world, heard)

    def entity_counts(self) -> tuple[int, int]:
        """(entities this space owns, ghosts it holds of its neighbours')."""
        kinds = self.world.store.cols["kind"]
        ghosts = int(np.count_nonzero(kinds >= Kind.GHOST_PLAYER))
        return len(self.world.store.slot_of) - ghosts, ghosts

    def claim(self, entity_id: int, version: int) -> None:
        """Raise the ownership version of an entity owned here to at least ``version``:
        a player seated again from its save (after a crash) must outrank the ghosts
        its neighbours still hold of its older body."""
        st = self.world.store
        slot = st.slot_of.get(entity_id)
        if slot is not None and st.cols["kind"].item(slot) in (Kind.PLAYER, Kind.CREATURE):
            st.cols["version"][slot] = max(int(st.cols["version"][slot]), version)

    def ownership(self, entity_id: int) -> int | None:
        """The ownership version of an entity this space owns, else None."""
        st = self.world.store
        slot = st.slot_of.get(entity_id)
        if slot is None or st.cols["kind"].item(slot) not in (Kind.PLAYER, Kind.CREATURE):
            return None
        return int(st.cols["version"][slot])

    def receive_hit(self, hit: GhostHit) -> bool:
        """A neighbour's hit on an entity it sees as a ghost; applied if owned here."""
        landing = cells.hit_here(self.world, self._role(), hit)
        if landing is None:
            return False
        damage(self.world, landing[0], hit.amount, landing[1])
        return True

    def ghosts_to_send(self) -> dict[int, GhostRows]:
        """Per neighbour cell, the border rows of the last tick (drained)."""
        out, self._borders = self._borders, {}
        return out

    def handoffs_to_send(self) -> list[Handoff]:
        role = self._role()
        out, role.handoffs = role.handoffs, []
        return out

    def hits_to_send(self) -> list[GhostHit]:
        role = self._role()
        out, role.hits = role.hits, []
        return out

    def _role(self) -> cells.CellRole:
        if self.world.cell is None:
            raise UsageError("this space is not a cell", instance_id=self.world.instance_id)
        return self.world.cell

    # --- outputs -----------------------------------------------------------

    def frames_to_send(self) -> list[SpaceFrame]:
        frames, self._frames = self._frames, []
        return frames

    def events_to_emit(self) -> list[Event]:
        events, self.world.events = self.world.events, []
        return events

    def saves_to_write(self) -> list[PlayerState]:
        """States of players changed since the last drain, in join order."""
        out = []
        for rec in self.world.players.values():
            if rec.dirty:
                rec.dirty = False
                out.append(self._state_of(rec))
        return out

    def distance(self, a: int, b: int) -> float:
        """How far apart two players stand (x, y); infinite unless both are here."""
        ra, rb = self.world.players.get(a), self.world.players.get(b)
        if ra is None or rb is None:
            return math.inf
        c = self.world.store.cols
        return math.hypot(
            float(c["x"][ra.slot] - c["x"][rb.slot]), float(c["y"][ra.slot] - c["y"][rb.slot])
        )

    def player_state(self, character_id: int) -> PlayerState:
        rec = self.world.players.get(character_id)
        if rec is None:
            raise NotFound("player", character_id)
        return self._state_of(rec)

    def _state_of(self, rec: PlayerRecord) -> PlayerState:
        c = self.world.store.cols
        s = rec.slot
        return PlayerState(
            character_id=rec.character_id,
            name=rec.name,
            level=rec.level,
            hp=int(c["hp"][s]),
            map_id=self.world.map.id,
            x=float(c["x"][s]),
            y=float(c["y"][s]),
            z=float(c["z"][s]),
            orientation=float(c["o"][s]),
            granted_items=list(rec.granted_items),
        )

    # --- moving between processes -----------------------------------------

    def creature_stats(self) -> dict[int, tuple[int, int, float]]:
        """Per creature template present: (max hp, damage, move speed) of its creatures
        as they are now (the highest of each, should they differ)."""
        st = self.world.store
        stats: dict[int, tuple[int, int, float]] = {}
        for slot in st.live(Kind.CREATURE):
            template = int(st["template"][slot])
            now = (int(st["max_hp"][slot]), int(st["damage"][slot]), float(st["speed"][slot]))
            stats[template] = max(stats.get(template, now), now)
        return stats

    def creatures_standing(self) -> dict[int, list[tuple[float, float]]]:
        """Per creature template, where its living creatures owned here stand."""
        st = self.world.store
        out: dict[int, list[tuple[float, float]]] = {}
        for slot in st.live(Kind.CREATURE).tolist():
            if not st["flags"][slot] & FLAG_DEAD:
                out.setdefault(int(st["template"][slot]), []).append(
                    (float(st["x"][slot]), float(st["y"][slot]))
                )
        return out

    def snapshot(self) -> bytes:
        """The whole space (undrained outputs included) as bytes."""
        return snap.dump(self.world, self._frames)

    @classmethod
    def restore(
        cls,
        pack: ContentPack,
        blob: bytes,
        *,
        cell: tuple[Partition, int, Margins] | None = None,
        partition_id: int = 0,
    ) -> Space:
        """A space that continues exactly where the snapshotted one stopped.

        ``pack`` is the content the space runs now; if a patch changed it since
        the snapshot, the space switches to it as ``apply_content`` would (with
        the pack of the snapshot, that changes nothing). A cell's checkpoint is
        restored as that ``cell`` of its partition, whose borders may have moved
        since: at its first tick it hands out whatever lies outside its rectangle.
        """
        space = cls.__new__(cls)
        space.world, space._frames = snap.load(pack, blob)
        space._borders = {}
        space.clock = _no_clock
        if cell is not None:  # before the content: a cell keeps only its own spawns
            space.place_in(*cell, partition_id=partition_id)
            space._role().relayout_due = True
        space.apply_content(pack)
        return space

    def resume_elsewhere(self, keep: set[int]) -> list[int]:
        """Prepare a restored checkpoint to run again on another node.

        Players not in ``keep`` are dropped (they rejoin from their last save,
        which may be newer than the checkpoint); the ids dropped are returned.
        The checkpoint's unused item ids are forgotten, since the crashed node may
        have granted some after it was taken; new blocks are asked for.
        """
        dropped = [cid for cid in self.world.players if cid not in keep]
        for character_id in dropped:
            self.remove_player(character_id)
        self.world.pool = ItemIdPool()
        self.world.ask_for_ids_if_low()
        return dropped


def _no_clock() -> float:
    return 0.0
