"""Frames: space -> gateway (columnar, per tick) and gateway -> client (per player).

``SpaceFrame`` carries, for one tick of one space, the state of every entity
that some observer sees (each entity once) and each observer's visible set.
Its columns are raw little-endian numpy buffers: a gateway turns them back
into arrays without a Python loop (``FrameArrays``).

``ClientFrame`` is what a player's socket receives: a sequenced delta whose
body (removes, adds, updates) is pre-encoded msgpack (``msgspec.Raw``), so a
body shared by several players is encoded once. Rows are ``array_like``
Structs of quantized integers (see ``realmkit.replication.quantize``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray


class SpaceFrame(msgspec.Struct, frozen=True, tag_field="t", tag="space_frame"):
    """One tick of one space, for the gateways. See ``FrameArrays`` for the columns."""

    instance_id: int
    map_id: int
    tick: int
    ids: bytes
    kinds: bytes
    templates: bytes
    pos: bytes
    hp: bytes
    max_hp: bytes
    flags: bytes
    observers: bytes
    selves: bytes
    acks: bytes
    offsets: bytes
    visible: bytes
    # The continent (partition) when the space is one of its cells, else 0.
    continent: int = 0
    # The space's ticks per second (a gateway refills its players' byte credit by it).
    tick_rate: int = 20

    @property
    def replica(self) -> int:
        """The world a gateway replicates this frame as part of (``replica_key``)."""
        return replica_key(self.instance_id, self.continent)


def replica_key(instance_id: int, continent: int) -> int:
    """What a gateway replicates as one world: all the cells of a continent
    together (their entity ids are the continent's, and a player crossing from
    one to another keeps its deltas and sequence), any other space on its own."""
    return -continent if continent else instance_id


_DTYPES: dict[str, Any] = {
    "ids": "<i8",
    "kinds": "u1",
    "templates": "<i4",
    "pos": "<f4",
    "hp": "<i4",
    "max_hp": "<i4",
    "flags": "u1",
    "observers": "<i8",
    "selves": "<i4",
    "acks": "<i8",
    "offsets": "<i4",
    "visible": "<i4",
}


@dataclass(frozen=True, slots=True)
class FrameArrays:
    """The columns of a ``SpaceFrame`` as numpy arrays.

    Rows (entities): ``ids``, ``kinds``, ``templates``, ``pos`` (n x 4: x, y,
    z, orientation), ``hp``, ``max_hp``, ``flags``. Observers: ``observers``
    (character ids), ``selves`` (row of the observer's own entity), ``acks``
    (last consumed input seq), ``offsets`` (m + 1) into ``visible`` (rows,
    nearest first).
    """

    ids: NDArray[np.int64]
    kinds: NDArray[np.uint8]
    templates: NDArray[np.int32]
    pos: NDArray[np.float32]
    hp: NDArray[np.int32]
    max_hp: NDArray[np.int32]
    flags: NDArray[np.uint8]
    observers: NDArray[np.int64]
    selves: NDArray[np.int32]
    acks: NDArray[np.int64]
    offsets: NDArray[np.int32]
    visible: NDArray[np.int32]

    def to_frame(
        self, instance_id: int, map_id: int, tick: int, continent: int = 0, tick_rate: int = 20
    ) -> SpaceFrame:
        cols = {
            k: np.ascontiguousarray(getattr(self, k), dtype=d).tobytes() for k, d in _DTYPES.items()
        }
        return SpaceFrame(
            instance_id=instance_id,
            map_id=map_id,
            tick=tick,
            continent=continent,
            tick_rate=tick_rate,
            **cols,
        )

    @classmethod
    def of(cls, frame: SpaceFrame) -> FrameArrays:
        cols = {k: np.frombuffer(getattr(frame, k), dtype=d) for k, d in _DTYPES.items()}
        cols["pos"] = cols["pos"].reshape(-1, 4)
        return cls(**cols)

    def visible_of(self, index: int) -> NDArray[np.int32]:
        """Rows seen by the ``index``-th observer, nearest first."""
        return self.visible[self.offsets[index] : self.offsets[index + 1]]


def select_observers(frame: SpaceFrame, character_ids: set[int]) -> SpaceFrame:
    """The part of ``frame`` a gateway needs for its own players (rows re-indexed)."""
    a = FrameArrays.of(frame)
    keep = np.flatnonzero(np.isin(a.observers, np.fromiter(character_ids, dtype=np.int64)))
    counts = (a.offsets[keep + 1] - a.offsets[keep]).astype(np.int64)
    starts = a.offsets[keep].astype(np.int64)
    total = int(counts.sum())
    idx = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    vis = a.visible[idx]
    rows = np.unique(np.concatenate([vis, a.selves[keep]]).astype(np.int64))
    new_index = np.full(a.ids.size, -1, dtype=np.int64)
    new_index[rows] = np.arange(rows.size)
    offsets = np.zeros(keep.size + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    part = FrameArrays(
        ids=a.ids[rows],
        kinds=a.kinds[rows],
        templates=a.templates[rows],
        pos=a.pos[rows],
        hp=a.hp[rows],
        max_hp=a.max_hp[rows],
        flags=a.flags[rows],
        observers=a.observers[keep],
        selves=new_index[a.selves[keep]].astype(np.int32),
        acks=a.acks[keep],
        offsets=offsets.astype(np.int32),
        visible=new_index[vis].astype(np.int32),
    )
    return part.to_frame(
        frame.instance_id, frame.map_id, frame.tick, frame.continent, frame.tick_rate
    )


# --- gateway -> client ------------------------------------------------------


class AddRow(msgspec.Struct, array_like=True, frozen=True):
    """An entity entering view: identity plus quantized state."""

    id: int
    kind: int
    template: int
    x: int
    y: int
    z: int
    o: int
    hp: int
    flags: int


class UpdateRow(msgspec.Struct, array_like=True, frozen=True):
    """A visible entity's new quantized state."""

    id: int
    x: int
    y: int
    z: int
    o: int
    hp: int
    flags: int


class FrameBody(msgspec.Struct, array_like=True, frozen=True):
    """The delta: ids leaving view, entities entering, entities changing."""

    removes: list[int]
    adds: list[AddRow]
    updates: list[UpdateRow]


class ClientFrame(msgspec.Struct, frozen=True, tag_field="t", tag="frame"):
    """A sequenced delta for one player.

    ``seq`` is dense per player; ``reset`` (a keyframe) tells the client to
    drop its table before applying ``body``; ``ack`` is the last input seq the
    space consumed (prediction ack). ``body`` encodes a ``FrameBody``.
    ``tick`` is the tick of the space that built the frame: on a continent of
    several cells each ticks on its own clock, so it may jump (even back) when
    the player crosses into another cell. Order frames by ``seq``, never by tick.
    """

    seq: int
    tick: int
    ack: int
    reset: bool
    body: msgspec.Raw


class ClientFrameIn(msgspec.Struct, frozen=True, tag_field="t", tag="frame"):
    """``ClientFrame`` as a client decodes it (body typed)."""

    seq: int
    tick: int
    ack: int
    reset: bool
    body: FrameBody
