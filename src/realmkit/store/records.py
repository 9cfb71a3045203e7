"""Typed rows of the store, and the states those rows may hold.

The string values of every state Enum are the ones the schema's CHECK
constraints allow; a test compares the two.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import msgspec


class RealmStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    LOCKED = "locked"
    MAINTENANCE = "maintenance"


class MapKind(StrEnum):
    CONTINENT = "continent"
    DUNGEON = "dungeon"
    BATTLEGROUND = "battleground"
    ARENA = "arena"


class InstanceState(StrEnum):
    REQUESTED = "requested"
    LOADING = "loading"
    READY = "ready"
    DRAINING = "draining"
    STOPPING = "stopping"
    GONE = "gone"
    UNHEALTHY = "unhealthy"


class AssignmentState(StrEnum):
    PLACING = "placing"
    IN_WORLD = "in_world"
    TRANSFERRING = "transferring"
    OFFLINE = "offline"


class NodeState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"


class Account(msgspec.Struct, frozen=True):
    account_id: int
    username: str
    password_hash: str
    status: str
    created_at: datetime
    last_login_at: datetime | None


class Game(msgspec.Struct, frozen=True):
    game_id: str
    name: str
    content_pack: str


class RealmPool(msgspec.Struct, frozen=True):
    pool_id: int
    name: str
    game_id: str
    active_patch_id: int | None


class Patch(msgspec.Struct, frozen=True):
    """Data overrides of a game's content (``realmkit.content.patches``), in a chain."""

    patch_id: int
    game_id: str
    parent_id: int | None
    name: str
    overrides: dict[str, Any]
    created_at: datetime


class Realm(msgspec.Struct, frozen=True):
    realm_id: int
    name: str
    game_id: str
    pool_id: int
    status: RealmStatus
    current_phase: int
    active_patch_id: int | None


class RealmListing(msgspec.Struct, frozen=True):
    """A realm as the realm list shows it."""

    realm_id: int
    name: str
    game_id: str
    pool_id: int
    pool: str
    status: RealmStatus
    current_phase: int
    active_patch_id: int | None
    patch: str | None
    population: int


class Node(msgspec.Struct, frozen=True):
    node_id: str
    role: str
    host: str
    port: int
    state: NodeState
    capacity: int
    last_heartbeat_at: datetime


class WorldCandidate(msgspec.Struct, frozen=True):
    node_id: str
    capacity: int
    players: int
    # Seats the node's instanced maps hold for players not there yet.
    reserved: int = 0


class Character(msgspec.Struct, frozen=True):
    character_id: int
    account_id: int
    realm_id: int
    name: str
    level: int
    hp: int
    map_id: int
    pos_x: float
    pos_y: float
    pos_z: float
    orientation: float
    save_epoch: int


class Item(msgspec.Struct, frozen=True):
    item_id: int
    template_id: int
    owner_character_id: int
    stack_count: int
    slot: int | None


class Instance(msgspec.Struct, frozen=True):
    instance_id: int
    game_id: str
    map_id: int
    kind: MapKind
    realm_id: int | None
    pool_id: int
    zone_group: int
    node_id: str | None
    state: InstanceState
    capacity: int


class Assignment(msgspec.Struct, frozen=True):
    character_id: int
    instance_id: int | None
    gateway_id: str | None
    epoch: int
    state: AssignmentState


RowT = TypeVar("RowT", bound=msgspec.Struct)


def row(cls: type[RowT], record: Any) -> RowT:
    """One asyncpg record as ``cls``; columns the Struct does not name are ignored."""
    return msgspec.convert(dict(record), cls, from_attributes=False, strict=False)


class CharacterSave(msgspec.Struct, frozen=True):
    """What a world node writes back for a character it hosts."""

    character_id: int
    level: int
    hp: int
    map_id: int
    pos_x: float
    pos_y: float
    pos_z: float
    orientation: float
