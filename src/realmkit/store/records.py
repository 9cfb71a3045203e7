"""Typed rows of the store, and the plain values those rows may hold.

The string values of every Enum here are the ones the schema's CHECK
constraints allow; a test compares the two. The lifecycle states (instance,
assignment, node) live with their transition tables in ``realmkit.lifecycle``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.lifecycle.node import NodeState
from realmkit.lifecycle.node import seen as node_seen
from realmkit.sim.state import PlayerState
from realmkit.store.values import AccountRole as AccountRole  # re-exported: records name them
from realmkit.store.values import MapKind as MapKind
from realmkit.store.values import RealmStatus as RealmStatus


class Account(msgspec.Struct, frozen=True):
    account_id: int
    username: str
    password_hash: str
    status: str
    created_at: datetime
    last_login_at: datetime | None
    role: AccountRole = AccountRole.PLAYER


class Game(msgspec.Struct, frozen=True):
    game_id: str
    name: str
    content_pack: str


class RealmPool(msgspec.Struct, frozen=True):
    pool_id: int
    name: str
    game_id: str
    active_patch_id: int | None


class PoolListing(msgspec.Struct, frozen=True):
    """A pool as operators see it: its active patch by name, its realms counted."""

    pool_id: int
    name: str
    game_id: str
    active_patch_id: int | None
    patch: str | None
    realms: int


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
    started_at: datetime | None = None  # when this run of the node registered
    metrics_port: int = 0  # where it serves /metrics, on host


class NodeStatus(msgspec.Struct, frozen=True):
    """A node as operators see it (``realmkit status``, the login API's root)."""

    node_id: str
    role: str
    state: NodeState
    heartbeat_age_s: float
    spaces: int  # live instances placed on it
    metrics: str = ""  # host:port of its /metrics ("" if it serves none)
    # What its process cost at its last heartbeat (None: not reported yet).
    cpu_percent: float | None = None
    memory_bytes: int | None = None

    @property
    def seen(self) -> str:
        """The state to show (``realmkit.lifecycle.node.seen``)."""
        return node_seen(self.state, self.role, self.heartbeat_age_s, self.spaces)


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

    def saved(self) -> CharacterSave:
        """The part of the row a world node loads and writes back."""
        # By field name: CharacterSave's fields are a subset of the row's.
        return msgspec.convert(self, CharacterSave, from_attributes=True)

    def player_state(self) -> PlayerState:
        """The character as a space takes it in."""
        return self.saved().player_state(self.name)


class Item(msgspec.Struct, frozen=True):
    """An item a character owns (``ItemRepo`` reads only those); one attached to a
    mail has no owner character and is a ``realmkit.store.mail.MailItem``."""

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
    """A character's saved state: what a world node loads and writes back.

    The two methods below are the only place where the row's fields and the
    space's ``PlayerState`` are matched up.
    """

    character_id: int
    level: int
    hp: int
    map_id: int
    pos_x: float
    pos_y: float
    pos_z: float
    orientation: float

    @classmethod
    def of(cls, state: PlayerState) -> CharacterSave:
        """What to write back for a player as the space has it now."""
        return cls(
            character_id=state.character_id,
            level=state.level,
            hp=state.hp,
            map_id=state.map_id,
            pos_x=state.x,
            pos_y=state.y,
            pos_z=state.z,
            orientation=state.orientation,
        )

    def player_state(self, name: str) -> PlayerState:
        """The saved character, named ``name``, as a space takes it in."""
        return PlayerState(
            character_id=self.character_id,
            name=name,
            level=self.level,
            hp=self.hp,
            map_id=self.map_id,
            x=self.pos_x,
            y=self.pos_y,
            z=self.pos_z,
            orientation=self.orientation,
        )


class CellStatus(msgspec.Struct, frozen=True):
    """One cell of a realm's live continents, as operators see it."""

    map_id: int
    version: int
    cell_id: int
    min_x: float
    min_y: float
    max_x: float
    max_y: float
    instance_id: int
    node_id: str | None
    state: str
    epoch: int
    players: int
    realm: str = ""


class BackupSummary(msgspec.Struct, frozen=True):
    """One backup node's row, ages by the database's clock (None: never)."""

    node_id: str
    backup_id: str
    backup_age_s: float | None
    # True: verified when taken; False: the verification failed; None: not verified.
    backup_verified: bool | None
    check_ok: bool | None  # None: no restore check yet
    check_backup_id: str
    check_reason: str
    check_seconds: float
    check_age_s: float | None
    check_characters: int
