"""Messages between nodes (never seen by players).

Requests carry a ``t`` tag so one subject can serve several kinds; the reply
type of each request is named in its docstring.
"""

from __future__ import annotations

from typing import Any

import msgspec

from realmkit.content.schema import Bounds
from realmkit.protocol.events import Event
from realmkit.protocol.frames import SpaceFrame
from realmkit.protocol.inputs import ClientInput


class GatewayLoad(msgspec.Struct, frozen=True):
    """A gateway's periodic report: where players connect and how many it holds;
    ``send_p99_ms``: the 99th percentile of how long its recent messages to players
    waited from their frame's arrival to their write."""

    gateway_id: str
    url: str
    players: int
    capacity: int
    send_p99_ms: float = 0.0


class SpaceLoad(msgspec.Struct, frozen=True, array_like=True):
    """One space of a world node, in its report: players, the entities it owns and
    the ghosts it holds (a cell's neighbours' border entities), its tick p99."""

    instance_id: int
    players: int
    entities: int
    ghosts: int
    tick_p99_ms: float
    late_ticks: int


class WorldLoad(msgspec.Struct, frozen=True):
    """A world node's periodic report."""

    node_id: str
    spaces: int
    players: int
    capacity: int
    tick_p99_ms: float
    late_ticks: int
    space_loads: list[SpaceLoad] = []


# --- orchestrator requests (subject ORCHESTRATOR_REQUESTS, queue group) -------


class EnterWorld(msgspec.Struct, frozen=True, tag_field="t", tag="enter"):
    """Place a character that enters the world through ``gateway_id``. Reply: Placement."""

    character_id: int
    gateway_id: str
    # SHA-256 of the resume token the gateway gives the client (empty: none).
    resume_hash: bytes = b""


class ResumeWorld(msgspec.Struct, frozen=True, tag_field="t", tag="resume"):
    """A client came back through ``gateway_id`` with a resume token hashing to
    ``proof``: place its character as it stands, under a new token. Reply: Placement."""

    proof: bytes
    gateway_id: str
    resume_hash: bytes


class UsePortal(msgspec.Struct, frozen=True, tag_field="t", tag="portal"):
    """A space saw the character step into one of its portals. Reply: Placement."""

    character_id: int
    instance_id: int
    portal_id: int


class MoveToInstance(msgspec.Struct, frozen=True, tag_field="t", tag="move"):
    """Transfer a character in the world to a READY instance. Reply: Placement.

    ``spawn`` names a spawn point of the target map ("" keeps the saved
    position when the target is the same map). ``cross_realm`` allows a target
    that is not of the character's realm (an instance owned by its pool).
    """

    character_id: int
    instance_id: int
    spawn: str = ""
    cross_realm: bool = False


class RequestInstance(msgspec.Struct, frozen=True, tag_field="t", tag="instance"):
    """Create and load an instance of a map (battleground, arena, dungeon) for a realm,
    or for a whole pool when ``realm_id`` is None. Reply: InstanceInfo."""

    game_id: str
    map_id: int
    pool_id: int
    realm_id: int | None = None


class ReturnHome(msgspec.Struct, frozen=True, tag_field="t", tag="home"):
    """Bring a character back from a cross-realm instance to where it left home: its
    realm's instance of its saved (home) map, at its saved position. Reply: Placement."""

    character_id: int
    from_instance: int


class DrainNode(msgspec.Struct, frozen=True, tag_field="t", tag="drain"):
    """Move every space off a world node (live migration) and stop sending it more.
    Reply: Drained."""

    node_id: str


class SplitCell(msgspec.Struct, frozen=True, tag_field="t", tag="split_cell"):
    """Cut cell ``cell_id`` of a realm's continent at ``at`` along ``axis`` ("x" or
    "y"): the high part becomes a new cell on another world node, its entities
    handed over live. Reply: CellsChanged."""

    realm_id: int
    map_id: int
    cell_id: int
    axis: str
    at: float


class MergeCell(msgspec.Struct, frozen=True, tag_field="t", tag="merge_cell"):
    """Join cell ``cell_id`` of a realm's continent with its sibling (the two halves of
    one split): the lower id of the two takes the area, the other cell hands all it
    holds over live and its space stops once empty. Reply: CellsChanged."""

    realm_id: int
    map_id: int
    cell_id: int


class MoveCellBorder(msgspec.Struct, frozen=True, tag_field="t", tag="move_cell_border"):
    """Move the border between cell ``cell_id`` of a realm's continent and its sibling
    (the other half of the split that made it, itself a cell) to ``at`` along that
    split's axis, both cells staying at least the map's smallest cell wide: what the
    moved area holds is handed over live to the cell that now has it. Reply:
    CellsChanged."""

    realm_id: int
    map_id: int
    cell_id: int
    at: float


class CrossCell(msgspec.Struct, frozen=True, tag_field="t", tag="cross_cell"):
    """A cell took a player over its border from a neighbour (``Handoff``): its
    assignment moves to this cell's instance under the next epoch, the quiet way
    (the gateway re-points without a ``new_world``). Reply: ``Crossed``.

    ``epoch`` is the epoch the hand-over carried, ``ownership`` the player's
    ownership version after it: a crossing is placed when the assignment still
    holds that epoch, or when the assignment's last move was an earlier crossing
    of the same continent (a player that crossed back before the first crossing
    was placed). Anything else (a resume placed it meanwhile) refuses it.
    """

    character_id: int
    partition_id: int
    instance_id: int
    epoch: int
    ownership: int
    map_id: int
    tick_rate: int
    bounds: Bounds


class Crossed(msgspec.Struct, frozen=True):
    """``placed``: the assignment is now this cell's under ``epoch``; otherwise
    ``epoch`` and ``instance_id`` are the assignment as it stands (0: offline)."""

    character_id: int
    placed: bool
    instance_id: int
    epoch: int


class CellsChanged(msgspec.Struct, frozen=True):
    """A continent's new layout: its version and the instance of every cell."""

    partition_id: int
    version: int
    cells: dict[int, int]


OrchestratorRequest = (
    EnterWorld
    | ResumeWorld
    | UsePortal
    | MoveToInstance
    | RequestInstance
    | ReturnHome
    | DrainNode
    | SplitCell
    | MergeCell
    | MoveCellBorder
    | CrossCell
)


class Placement(msgspec.Struct, frozen=True):
    """Where the character is now, seated in its space under ``epoch``; ``spawn``:
    the spawn point it joined at ("": its saved spot)."""

    character_id: int
    instance_id: int
    node_id: str
    map_id: int
    epoch: int
    tick_rate: int
    # The map's bounds, for the gateway's movement pre-check.
    bounds: Bounds
    spawn: str = ""
    # The continent (partition) when the space is one of its cells, else 0: the
    # gateway replicates every cell of one continent as one world.
    continent: int = 0


class InstanceInfo(msgspec.Struct, frozen=True):
    instance_id: int
    node_id: str
    map_id: int
    capacity: int


class Migrated(msgspec.Struct, frozen=True):
    instance_id: int
    to_node: str
    players: int
    seconds: float


class Drained(msgspec.Struct, frozen=True):
    node_id: str
    spaces: list[Migrated]


# --- content (subject CONTENT_PATCHES) ------------------------------------------


class PatchActivated(msgspec.Struct, frozen=True):
    """A realm's (or, with ``pool_id``, a pool's cross-realm instances') active patch
    changed: world nodes re-resolve the content of the spaces it concerns."""

    game_id: str
    patch_id: int | None
    realm_id: int | None = None
    pool_id: int | None = None


# --- world node control (subject node.<id>.control) ---------------------------


class Occupant(msgspec.Struct, frozen=True):
    """A player in a space: placed under ``epoch``, connected through ``gateway_id``."""

    character_id: int
    epoch: int
    gateway_id: str


class CellPlace(msgspec.Struct, frozen=True):
    """Where a continent's space sits in its partition: cell ``cell_id`` of
    ``layout`` (``realmkit.cells.partition.Partition.dump``)."""

    partition_id: int
    cell_id: int
    layout: dict[str, Any]
    # This load's incarnation of the cell (raised by every load): its neighbours
    # refuse what an older incarnation still sends.
    epoch: int = 0


class LoadSpace(msgspec.Struct, frozen=True, tag_field="t", tag="load"):
    """Host this instance; idempotent. Reply: SpaceReady once it can take players.

    With ``restore`` the space continues from its latest checkpoint (a fresh
    space if it has none). Players in the checkpoint stay only if listed in
    ``keep`` (live migration, under their new epochs); the others are dropped
    and join again from their last save.
    """

    instance_id: int
    content_pack: str
    map_id: int
    seed: int
    restore: bool = False
    keep: list[Occupant] = []
    # A continent's cell: its neighbours share ghosts and hand entities over.
    cell: CellPlace | None = None


class FreezeSpace(msgspec.Struct, frozen=True, tag_field="t", tag="freeze"):
    """Stop the space after its current tick, write its checkpoint and every pending
    save, and unload it (live migration). Reply: Frozen."""

    instance_id: int


class StopSpace(msgspec.Struct, frozen=True, tag_field="t", tag="stop"):
    """Save everyone and unload the space. Reply: Frozen."""

    instance_id: int


WorldControl = LoadSpace | FreezeSpace | StopSpace


class Frozen(msgspec.Struct, frozen=True):
    instance_id: int
    tick: int


class SpaceReady(msgspec.Struct, frozen=True):
    instance_id: int
    node_id: str


# --- one space (subject space.<instance_id>.control) --------------------------


class JoinSpace(msgspec.Struct, frozen=True, tag_field="t", tag="join"):
    """Add the character placed here under ``epoch``. Reply: Joined.

    ``spawn`` names the spawn point to appear at ("": the saved position).
    """

    character_id: int
    epoch: int
    gateway_id: str
    spawn: str = ""


class LeaveSpace(msgspec.Struct, frozen=True, tag_field="t", tag="leave"):
    """The player left: save (fenced by ``epoch``) and release. Reply: Left."""

    character_id: int
    epoch: int


class HandOff(msgspec.Struct, frozen=True, tag_field="t", tag="handoff"):
    """Take the player out for a transfer: its save under ``epoch`` is written
    before the reply (Left); the assignment is the orchestrator's to change."""

    character_id: int
    epoch: int


class DescribeSpace(msgspec.Struct, frozen=True, tag_field="t", tag="describe"):
    """Operators' view of a running space. Reply: SpaceDescription."""


class Distance(msgspec.Struct, frozen=True, tag_field="t", tag="distance"):
    """How far apart two players of the space stand (a trade needs them near).
    Reply: Apart."""

    a: int
    b: int


class Apart(msgspec.Struct, frozen=True):
    """``distance`` in world units; infinite when either is not in the space."""

    distance: float


SpaceControl = JoinSpace | LeaveSpace | HandOff | DescribeSpace | Distance


class SpaceDescription(msgspec.Struct, frozen=True):
    """What a space runs: its tick, players, content version (``patch_id`` None: the
    base pack) and, per creature template present, (max hp, damage, move speed) and
    where its living creatures of that template stand (x, y)."""

    instance_id: int
    node_id: str
    tick: int
    players: int
    patch_id: int | None
    creatures: dict[int, tuple[int, int, float]]
    standing: dict[int, list[tuple[float, float]]] = {}
    cell: CellCost | None = None


class CellCost(msgspec.Struct, frozen=True):
    """What being a cell costs a space, since it was loaded (``bench/cells.py``).

    ``crossing_ms``: for the latest players handed here, milliseconds from the start
    of the old owner's tick that handed them to this cell's first frame with them;
    ``ghost_bytes``: ghost batches sent to each neighbour cell; ``cell_seconds``:
    time its ticks spent on ghosts and hand-overs (taking ghosts in, border rows,
    hand-outs, publishing them), against ``tick_seconds`` over ``ticks`` ticks;
    ``core_seconds`` the part of it in the simulation (the rest is messages)."""

    crossings: int
    crossing_ms: list[float]
    ghost_bytes: dict[int, int]
    cell_seconds: float
    tick_seconds: float
    ticks: int
    core_seconds: float = 0.0


class Joined(msgspec.Struct, frozen=True):
    character_id: int
    instance_id: int
    map_id: int
    tick: int
    tick_rate: int
    # The map's bounds, for the gateway's movement pre-check.
    bounds: Bounds
    continent: int = 0


class Left(msgspec.Struct, frozen=True):
    character_id: int
    saved: bool


class PlayerInput(msgspec.Struct, frozen=True, array_like=True):
    character_id: int
    input: ClientInput


class InputBatch(msgspec.Struct, frozen=True):
    """A gateway's inputs for one space since its last batch (subject space.<id>.in)."""

    gateway_id: str
    inputs: list[PlayerInput]


class GatewayEvents(msgspec.Struct, frozen=True, tag_field="t", tag="events"):
    """Events of one tick that concern some of a gateway's players."""

    instance_id: int
    tick: int
    events: list[Event]
    continent: int = 0


# What a world node publishes on gateway.<id>.frames.
GatewayTraffic = SpaceFrame | GatewayEvents


# --- a gateway's players (subject gateway.<id>.control) -----------------------


class TransferStarted(msgspec.Struct, frozen=True, tag_field="t", tag="pending"):
    """The character is leaving its space: tell the client, drop its inputs. Reply: Ack."""

    character_id: int
    reason: str


class Repoint(msgspec.Struct, frozen=True, tag_field="t", tag="repoint"):
    """The character now plays in ``instance_id`` under ``epoch``. Reply: Ack.

    ``fresh``: the client starts over in that space (``new_world``, a
    keyframe). Without it the space itself moved (live migration), or the
    player crossed into another cell of its continent (``continent``), and the
    client sees nothing.
    """

    character_id: int
    epoch: int
    instance_id: int
    map_id: int
    tick_rate: int
    bounds: Bounds
    fresh: bool = True
    continent: int = 0


class Replaced(msgspec.Struct, frozen=True, tag_field="t", tag="replaced"):
    """The character entered the world again through another gateway, under ``epoch``:
    a socket here that plays it under an older epoch is closed, "connected elsewhere"
    (``CLOSE_REPLACED``). Reply: Ack (``ok`` False: none here)."""

    character_id: int
    epoch: int


GatewayControl = TransferStarted | Repoint | Replaced


class Ack(msgspec.Struct, frozen=True):
    """``ok`` False: the gateway no longer holds that player."""

    ok: bool
