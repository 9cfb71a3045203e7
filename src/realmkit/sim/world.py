"""The mutable state of one space, shared by the rule modules.

``World`` is a plain container: the rules (``creatures``, ``combat``,
``actions``) read and change it, ``Space`` orders them within a tick, and
``snapshot`` writes it out and back. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple

import numpy as np

from realmkit.content.schema import ContentPack, MapDef
from realmkit.protocol.events import Event, ItemIdsNeeded
from realmkit.sim.aoi import InterestGrid
from realmkit.sim.loot import ItemIdPool, PendingGrant
from realmkit.sim.movement import MoveRules
from realmkit.sim.state import MatchState, PlayerRecord
from realmkit.sim.store import EntityStore, Kind

if TYPE_CHECKING:
    from realmkit.sim.cell import CellRole

# Combat reach of creatures: they stop at STOP and hit within REACH.
CREATURE_STOP: Final = 2.0
CREATURE_REACH: Final = 3.0


class SpawnKey(NamedTuple):
    """Which spawn of a map a creature belongs to, stable across content patches.

    Patches toggle a spawn or change its ``count`` and ``phase`` but never its
    template, position or ``name`` (by which they find it), so those name it;
    ``nth`` tells apart spawns of one map that share all of them (0 for the
    first in pack order; only unnamed spawns can, names being unique).
    """

    template: int
    x: float
    y: float
    z: float
    name: str = ""
    nth: int = 0


class World:
    """Everything a space knows, besides its pending inputs' order (kept on records)."""

    def __init__(
        self, pack: ContentPack, map_id: int, instance_id: int, rng: np.random.Generator
    ) -> None:
        self.pack = pack
        self.map: MapDef = pack.maps[map_id]
        self.instance_id = instance_id
        self.tick_rate = self.map.tick_rate
        # A frame on every tick divisible by this (``MapDef.frame_rate``).
        self.frame_every = max(1, round(self.tick_rate / min(self.map.frame_rate, self.tick_rate)))
        self.tick = -1  # no tick run yet; step(0) is the first
        self.store = EntityStore(capacity=256)
        self.players: dict[int, PlayerRecord] = {}
        self.rng = rng
        self.pool = ItemIdPool()
        self.pending: list[PendingGrant] = []
        self.events: list[Event] = []
        self.grid = InterestGrid(
            self.map.view_radius, self.map.view_hysteresis, self.map.max_visible
        )
        self.move_rules = self._move_rules()
        self.pvp = self.map.kind in ("battleground", "arena")
        # Spawn keys ever seen, append-only: the ``spawn`` column indexes this list.
        self.spawn_keys: list[SpawnKey] = []
        self.spawn_index: dict[SpawnKey, int] = {}
        # Creature ids are -1, -2, ... and never reused, even after a removal.
        self.creatures_made = 0
        # Where this world's creature ids start (a cell's block; 0 for a whole map).
        self.creature_ids_from = 0
        self.match = MatchState()
        # Set when this space is one cell of a continent (``realmkit.sim.cell``).
        self.cell: CellRole | None = None

    def ticks(self, seconds: float) -> int:
        """A duration in whole ticks (at least one)."""
        return max(1, round(seconds * self.tick_rate))

    def time_ms(self, tick: int) -> int:
        """Server time of a tick, in milliseconds since tick 0."""
        return tick * 1000 // self.tick_rate

    def max_hp(self, level: int) -> int:
        rules = self.pack.player
        return rules.base_hp + rules.hp_per_level * (level - 1)

    def use_pack(self, pack: ContentPack) -> None:
        """Read ``pack`` from now on (the map stays: patches never change maps)."""
        self.pack = pack
        self.move_rules = self._move_rules()

    def _move_rules(self) -> MoveRules:
        rules = self.pack.player
        return MoveRules(
            bounds=self.map.bounds, run_speed=rules.run_speed, vertical_speed=rules.vertical_speed
        )

    def intern_spawn(self, key: SpawnKey) -> int:
        """The index of ``key`` in ``spawn_keys``, appending it if new."""
        index = self.spawn_index.get(key)
        if index is None:
            index = len(self.spawn_keys)
            self.spawn_keys.append(key)
            self.spawn_index[key] = index
        return index

    def hearers(self, x: float, y: float, yell: bool) -> list[int]:
        """The players of this space within say (or yell) reach of (x, y), by slot."""
        reach = self.pack.player.yell_range if yell else self.pack.player.say_range
        st = self.store
        players = st.live(Kind.PLAYER)
        dx = st["x"][players] - x
        dy = st["y"][players] - y
        near = players[dx * dx + dy * dy <= reach * reach]
        ids: list[int] = st["id"][np.sort(near)].tolist()
        return ids

    def ask_for_ids_if_low(self) -> None:
        if self.pool.wants_more():
            self.events.append(ItemIdsNeeded(self.pool.block_size))
