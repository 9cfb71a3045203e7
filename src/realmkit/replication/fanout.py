"""A gateway's replication per space, and the rule for frames it cannot deliver. No I/O.

A frame for a player the gateway cannot reach right now (joining, before
``new_world``; or already gone) is not sent, and the replicator must not
believe the client holds it: that player restarts with a keyframe. Without
this, a player who stands where nothing moves would never see its world.

Replicators are keyed by ``SpaceFrame.replica``: the cells of one continent
share one, so a player crossing from one cell to the next keeps its frame
sequence and what its client holds (entity ids are the continent's).

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
        key = frame.replica
        replicator = self.replicators.get(key)
        if replicator is None:
            replicator = self.replicators[key] = Replicator(self.config)
        out = []
        unreachable = []
        for character_id, data in replicator.step(frame):
            if deliverable(character_id):
                out.append((character_id, data))
            else:
                unreachable.append(character_id)
        replicator.request_keyframes(unreachable)
        if (
            not out
            and not any(
                deliverable(c) for c in np.frombuffer(frame.observers, dtype="<i8").tolist()
            )
            and not any(deliverable(c) for c in replicator.observer_ids())
        ):
            # Nobody here can take this world's frames (a continent's replicator
            # also serves the players of its other cells): whoever comes back to
            # it starts with a keyframe from a new replicator.
            del self.replicators[key]
        return out

    def keyframe(self, replica: int, character_id: int) -> None:
        """The client saw a gap: its next frame is a keyframe."""
        replicator = self.replicators.get(replica)
        if replicator is not None:
            replicator.request_keyframe(character_id)

    def left(self, replica: int, character_id: int) -> None:
        """The player no longer observes ``replica`` (a ``SpaceFrame.replica``) here."""
        replicator = self.replicators.get(replica)
        if replicator is not None:
            replicator.remove_observer(character_id)
            if replicator.observers == 0:
                del self.replicators[replica]
