"""``EntityTable``: the client side of replication, applying frames in order.

A client holds one row per entity it was told about. Frames must arrive with
dense sequence numbers; on a gap the table stops applying deltas (they would
build on rows it never got) and reports that it needs a keyframe, until a
``reset`` frame arrives and rebuilds it from scratch.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from realmkit.errors import BadMessage
from realmkit.protocol.frames import ClientFrameIn


class EntityRow(NamedTuple):
    """What a client knows of one entity (quantized, see ``replication.quantize``)."""

    kind: int
    template: int
    x: int
    y: int
    z: int
    o: int
    hp: int
    flags: int


_decoder = msgspec.msgpack.Decoder(ClientFrameIn)


class EntityTable:
    """Entities as the client sees them, plus the frame sequence bookkeeping."""

    def __init__(self) -> None:
        self.rows: dict[int, EntityRow] = {}
        self.last_seq = 0
        self.ack = 0
        self.tick = -1
        self.needs_keyframe = False

    def apply(self, data: bytes) -> bool:
        """Apply one frame; False when it was skipped because a keyframe is needed."""
        try:
            frame = _decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise BadMessage("client frame", str(exc)) from exc
        if frame.reset:
            self.rows.clear()
            self.needs_keyframe = False
        elif self.needs_keyframe or frame.seq != self.last_seq + 1:
            self.needs_keyframe = True
            return False
        self.last_seq = frame.seq
        self.ack = frame.ack
        self.tick = frame.tick
        body = frame.body
        for entity_id in body.removes:
            self.rows.pop(entity_id, None)
        for a in body.adds:
            self.rows[a.id] = EntityRow(a.kind, a.template, a.x, a.y, a.z, a.o, a.hp, a.flags)
        for u in body.updates:
            old = self.rows.get(u.id)
            if old is None:
                # An update for a row we never got: our table is wrong, resync.
                self.needs_keyframe = True
                return False
            self.rows[u.id] = old._replace(x=u.x, y=u.y, z=u.z, o=u.o, hp=u.hp, flags=u.flags)
        return True
