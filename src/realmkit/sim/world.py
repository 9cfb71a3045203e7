"""The mutable state of one space, shared by the rule modules.

``World`` is a plain container: the rules (``creatures``, ``combat``,
``actions``) read and change it, ``Space`` orders them within a tick, and
``snapshot`` writes it out and back. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from realmkit.content.schema import ContentPack, MapDef
from realmkit.sim.aoi import InterestGrid
from realmkit.sim.events import Event, ItemIdsNeeded
from realmkit.sim.loot import ItemIdPool, PendingGrant
from realmkit.sim.movement import MoveRules
from realmkit.sim.state import PlayerRecord
from realmkit.sim.store import EntityStore

# Combat reach of creatures: they stop at STOP and hit within REACH.
CREATURE_STOP: Final = 2.0
CREATURE_REACH: Final = 3.0


class World:
    """Everything a space knows, besides its pending inputs' order (kept on records)."""

    def __init__(
        self, pack: ContentPack, map_id: int, instance_id: int, rng: np.random.Generator
    ) -> None:
        self.pack = pack
        self.map: MapDef = pack.maps[map_id]
        self.instance_id = instance_id
        self.tick_rate = self.map.tick_rate
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
        self.move_rules = MoveRules(
            bounds=self.map.bounds,
            run_speed=pack.player.run_speed,
            vertical_speed=pack.player.vertical_speed,
        )
        self.pvp = self.map.kind in ("battleground", "arena")

    def ticks(self, seconds: float) -> int:
        """A duration in whole ticks (at least one)."""
        return max(1, round(seconds * self.tick_rate))

    def time_ms(self, tick: int) -> int:
        """Server time of a tick, in milliseconds since tick 0."""
        return tick * 1000 // self.tick_rate

    def max_hp(self, level: int) -> int:
        rules = self.pack.player
        return rules.base_hp + rules.hp_per_level * (level - 1)

    def ask_for_ids_if_low(self) -> None:
        if self.pool.wants_more():
            self.events.append(ItemIdsNeeded(self.pool.block_size))
