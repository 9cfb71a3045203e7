"""Messages between nodes (never seen by players).

Requests carry a ``t`` tag so one subject can serve several kinds; the reply
type of each request is named in its docstring.
"""

from __future__ import annotations

import msgspec

from realmkit.content.schema import Bounds
from realmkit.protocol.frames import SpaceFrame
from realmkit.protocol.inputs import ClientInput
from realmkit.sim.events import Event


class GatewayLoad(msgspec.Struct, frozen=True):
    """A gateway's periodic report: where players connect and how many it holds."""

    gateway_id: str
    url: str
    players: int
    capacity: int


class WorldLoad(msgspec.Struct, frozen=True):
    """A world node's periodic report."""

    node_id: str
    spaces: int
    players: int
    capacity: int
    tick_p99_ms: float
    late_ticks: int


# --- orchestrator requests (subject ORCHESTRATOR_REQUESTS, queue group) -------


class EnterWorld(msgspec.Struct, frozen=True, tag_field="t", tag="enter"):
    """Place a character that enters the world through ``gateway_id``. Reply: Placement."""

    character_id: int
    gateway_id: str


OrchestratorRequest = EnterWorld


class Placement(msgspec.Struct, frozen=True):
    character_id: int
    instance_id: int
    node_id: str
    map_id: int
    epoch: int


# --- world node control (subject node.<id>.control) ---------------------------


class LoadSpace(msgspec.Struct, frozen=True, tag_field="t", tag="load"):
    """Host this instance; idempotent. Reply: SpaceReady once it can take players."""

    instance_id: int
    content_pack: str
    map_id: int
    seed: int


WorldControl = LoadSpace


class SpaceReady(msgspec.Struct, frozen=True):
    instance_id: int
    node_id: str


# --- one space (subject space.<instance_id>.control) --------------------------


class JoinSpace(msgspec.Struct, frozen=True, tag_field="t", tag="join"):
    """Add the character placed here under ``epoch``. Reply: Joined."""

    character_id: int
    epoch: int
    gateway_id: str


class LeaveSpace(msgspec.Struct, frozen=True, tag_field="t", tag="leave"):
    """The player left: save (fenced by ``epoch``) and release. Reply: Left."""

    character_id: int
    epoch: int


SpaceControl = JoinSpace | LeaveSpace


class Joined(msgspec.Struct, frozen=True):
    character_id: int
    instance_id: int
    map_id: int
    tick: int
    tick_rate: int
    # The map's bounds, for the gateway's movement pre-check.
    bounds: Bounds


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


# What a world node publishes on gateway.<id>.frames.
GatewayTraffic = SpaceFrame | GatewayEvents
