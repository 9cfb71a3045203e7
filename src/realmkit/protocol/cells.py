"""Messages between the cells of a continent (world node to world node, never players).

Each names the partition (``partition_id``) and the layout version its sender
ran. Ticks never cross: a ghost batch carries its source's own tick (ordered
per source only), and what a hand-over holds as a tick is counted from the
hand-over (``*_in``), since two cells' clocks differ (CELLS.md case 3).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from realmkit.cells.ghosts import GHOST_COLUMNS, GhostRows
from realmkit.errors import BadMessage
from realmkit.protocol.events import Event
from realmkit.protocol.inputs import ClientInput

# Each ghost column's little-endian dtype, made once (per batch it was a cost).
_WIRE_DTYPES = {name: np.dtype(dt).newbyteorder("<") for name, dt in GHOST_COLUMNS.items()}


class GhostBatch(msgspec.Struct, frozen=True, tag_field="t", tag="ghosts"):
    """A cell's entities within the ghost margin of the receiving cell, this tick:
    the whole border (what is not in it is no longer a ghost there). ``cols``
    holds ``GHOST_COLUMNS`` as little-endian buffers, one row an entity."""

    partition_id: int
    version: int
    source_cell: int
    source_tick: int
    cols: dict[str, bytes]
    epoch: int = 0  # the source cell's incarnation (``CellPlace.epoch``)

    @classmethod
    def of(
        cls,
        partition_id: int,
        version: int,
        source_cell: int,
        source_tick: int,
        rows: GhostRows,
        epoch: int = 0,
    ) -> GhostBatch:
        cols = {
            name: np.ascontiguousarray(rows.cols[name], dtype=dt).tobytes()
            for name, dt in _WIRE_DTYPES.items()
        }
        return cls(partition_id, version, source_cell, source_tick, cols, epoch)

    def rows(self) -> GhostRows:
        """The rows; ``BadMessage`` if a column is missing, unknown or of another length."""
        if set(self.cols) != set(GHOST_COLUMNS):
            raise BadMessage("ghost batch", f"columns {sorted(self.cols)}")
        try:
            arrays: dict[str, Any] = {
                name: np.frombuffer(self.cols[name], dtype=dt) for name, dt in _WIRE_DTYPES.items()
            }
            return GhostRows.of(**arrays)
        except ValueError as exc:
            raise BadMessage("ghost batch", str(exc)) from None


class HandedPlayer(msgspec.Struct, frozen=True):
    """What a player is beyond its entity row, as it moves to another cell."""

    character_id: int
    name: str
    level: int
    last_seq: int
    attack_target: int
    swing_in: int  # ticks until its next swing
    cooldowns_in: dict[int, int]  # spell -> ticks until it is ready
    inputs: list[ClientInput]  # queued, not applied yet
    granted_items: list[int]
    dirty: bool
    in_portal: int
    dropped_inputs: int
    team: int


class Handoff(msgspec.Struct, frozen=True, tag_field="t", tag="handoff"):
    """An entity leaving its owner cell for ``to_cell``, with everything it is.

    ``ownership`` is its ownership version after this hand-over (claims on one id
    are settled by it, CELLS.md case 1). ``row`` has every entity column of the
    space (``target`` as an entity id, 0 for none; tick columns as ticks from
    now); ``spawn`` names a creature's spawn (template, x, y, z, name, nth).
    """

    partition_id: int
    version: int
    entity_id: int
    from_cell: int
    to_cell: int
    ownership: int
    row: dict[str, int | float]
    player: HandedPlayer | None = None
    spawn: tuple[int, float, float, float, str, int] | None = None
    # A player's place, set by the sending world node: the new owner routes its
    # frames and saves it as the old one did until the orchestrator re-seats it.
    epoch: int = 0
    gateway_id: str = ""
    # Wall-clock start of the tick that handed it (seconds): crossing latency.
    sent_at: float = 0.0
    # The sending cell's incarnation (``CellPlace.epoch``).
    from_epoch: int = 0
    # Sent again to a new incarnation of ``to_cell`` (``cells.handover.Resends``).
    again: bool = False


class GhostHit(msgspec.Struct, frozen=True, tag_field="t", tag="hit"):
    """Damage meant for an entity the sender sees as a ghost, for its owner to apply
    once; forwarded after a target that moved on, ``hops`` times so far.
    ``source_cell`` and ``epoch`` name the incarnation of the cell that sent it last
    (0: not stamped): its receiver refuses an older incarnation's, as it refuses
    its ghosts and hand-overs."""

    partition_id: int
    owner_cell: int
    target_id: int
    amount: int
    attacker_id: int
    hops: int = 0
    source_cell: int = 0
    epoch: int = 0


class Relayout(msgspec.Struct, frozen=True, tag_field="t", tag="relayout"):
    """The partition changed: run ``layout`` (``Partition.dump``) from the next tick."""

    partition_id: int
    layout: dict[str, Any]


class ForwardedInput(msgspec.Struct, frozen=True, tag_field="t", tag="input"):
    """A player's input that reached its old cell after the hand-over: it follows the
    player on the subject the hand-over took, so it arrives after it (case 5)."""

    gateway_id: str
    character_id: int
    input: ClientInput


class CellEvents(msgspec.Struct, frozen=True, tag_field="t", tag="events"):
    """Events of the sender's tick that concern players owned by the receiver (a
    creature it owns died to them, loot it rolled for them): the receiver gives
    them to those players' gateways, so each reaches its player once."""

    partition_id: int
    source_cell: int
    events: list[Event]


class Heard(msgspec.Struct, frozen=True, tag_field="t", tag="heard"):
    """A player of the sender said or yelled something whose reach crosses into the
    receiver: its players within reach of (x, y) hear it as if it were said there."""

    partition_id: int
    speaker_id: int
    speaker_name: str
    text: str
    yell: bool
    x: float
    y: float


CellMessage = GhostBatch | Handoff | GhostHit | Relayout | ForwardedInput | CellEvents | Heard
