"""A gateway's replication per space, and the rule for frames it cannot deliver. No I/O.

A frame for a player the gateway cannot reach right now (joining, before
``new_world``; or already gone) is not sent, and the replicator must not
believe the client holds it: that player restarts with a keyframe. Without
this, a player who stands where nothing moves would never see its world.

A space's replicator lives while a player of this gateway observes it: when
the last one leaves, or a frame has no observer this gateway can reach (a
late frame of a space its players left), it goes (a long-lived gateway serves many spaces, most
of them for a while only: dungeons, matches, the spaces of moved players).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from realmkit.protocol.frames import SpaceFrame
from realmkit.replication.replicator import ReplicationConfig, Replicator


class Fanout:
    def __init__(self, config: ReplicationConfig | None = None) -> None:
        self.config = config or ReplicationConfig()
        self.replicators: dict[int, Replicator] = {}

    def frame(
        self, frame: SpaceFrame, deliverable: Callable[[int], bool]
    ) -> list[tuple[int, bytes]]:
        """(character id, bytes) to send for one space frame, to deliverable players only."""
        replicator = self.replicators.get(frame.instance_id)
        if replicator is None:
            replicator = self.replicators[frame.instance_id] = Replicator(self.config)
        out = []
        for character_id, data in replicator.step(frame):
            if deliverable(character_id):
                out.append((character_id, data))
            else:
                replicator.request_keyframe(character_id)
        if not out and not any(
            deliverable(c) for c in np.frombuffer(frame.observers, dtype="<i8").tolist()
        ):
            # Nobody here can take this space's frames: whoever comes back to it
            # starts with a keyframe from a new replicator.
            del self.replicators[frame.instance_id]
        return out

    def keyframe(self, instance_id: int, character_id: int) -> None:
        """The client saw a gap: its next frame is a keyframe."""
        replicator = self.replicators.get(instance_id)
        if replicator is not None:
            replicator.request_keyframe(character_id)

    def left(self, instance_id: int, character_id: int) -> None:
        replicator = self.replicators.get(instance_id)
        if replicator is not None:
            replicator.remove_observer(character_id)
            if replicator.observers == 0:
                del self.replicators[instance_id]
