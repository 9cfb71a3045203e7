"""Character state in and out of a space, and the space's own per-player record.

``PlayerState`` is the contract with the world node and PostgreSQL: what a
space receives in ``add_player``, returns from ``remove_player`` and hands
out as dirty saves. ``PlayerRecord`` is private to the space (the parts of a
player that are not numpy columns; ``team`` is 1-based, 0 for none) and
travels only inside snapshots, as does ``MatchState``.
"""

from __future__ import annotations

import msgspec

from realmkit.protocol.inputs import ClientInput
from realmkit.sim.movement import MoveTrack


class PlayerState(msgspec.Struct, frozen=True):
    """What PostgreSQL stores for a character, as the space sees it.

    ``granted_items`` lists the ids of items granted while in this space (in
    grant order); the world node persists them (items are created by the
    loot events, so a save never invents an item).
    """

    character_id: int
    name: str
    level: int
    hp: int
    map_id: int
    x: float
    y: float
    z: float
    orientation: float
    granted_items: list[int] = []


class PlayerRecord(msgspec.Struct):
    """Per-player data that does not live in the entity columns."""

    character_id: int
    name: str
    level: int
    slot: int
    track: MoveTrack
    last_seq: int = 0
    attack_target: int = 0
    next_swing: int = 0
    cooldowns: dict[int, int] = {}
    inputs: list[ClientInput] = []
    granted_items: list[int] = []
    dirty: bool = False
    in_portal: int = 0
    dropped_inputs: int = 0
    team: int = 0


class MatchState(msgspec.Struct):
    """What a match space remembers for its win rule (see ``realmkit.sim.match``)."""

    teams_seen: list[int] = []
    scores: dict[int, int] = {}
    winner: int = 0
