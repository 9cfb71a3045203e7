"""A gateway's entries it gave up on, watched for a seat that completes after all.

A gateway asks the orchestrators to seat a character and waits for the answer
a while; when it gives up (``Unavailable``), the seat may still complete: the
character is then in the world under this gateway with no socket here, and
would stay there until its next login. The gateway watches such an entry for
``watch`` seconds and logs a late seat out, unless the character entered again
meanwhile (through this gateway: it is entering or playing here; through
another: its seat names that gateway). No I/O, no clock: the gateway passes
the time, what it holds, and the seats it read.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field

WATCH_SECONDS = 60.0


@dataclass(frozen=True)
class SeatSeen:
    """A character's assignment as read: its gateway, space and epoch, in the world."""

    gateway_id: str | None
    instance_id: int | None
    epoch: int
    in_world: bool


@dataclass
class AbandonedEntries:
    watch: float = WATCH_SECONDS
    _until: dict[int, float] = field(default_factory=dict)
    _entering: set[int] = field(default_factory=set)

    def entering(self, character_id: int) -> None:
        """An entry of the character is under way here."""
        self._entering.add(character_id)

    def gave_up(self, character_id: int, now: float) -> None:
        """The entry got no answer in time: watch for a late seat."""
        self._entering.discard(character_id)
        self._until[character_id] = now + self.watch

    def failed(self, character_id: int) -> None:
        """The entry was refused: nothing was seated."""
        self._entering.discard(character_id)

    def entered(self, character_id: int) -> None:
        """The character plays here now: nothing to watch."""
        self._entering.discard(character_id)
        self._until.pop(character_id, None)

    def to_look_up(self, now: float, playing: Container[int]) -> list[int]:
        """The watched characters whose seats to read (the expired forgotten)."""
        for cid in [c for c, until in self._until.items() if until < now]:
            del self._until[cid]
        return [c for c in self._until if c not in self._entering and c not in playing]

    def to_log_out(
        self, gateway_id: str, seats: Mapping[int, SeatSeen], playing: Container[int]
    ) -> list[tuple[int, int, int]]:
        """(character, space, epoch) of the late seats to log out (no longer watched)."""
        out = []
        for cid, seat in seats.items():
            if (
                cid in self._until
                and seat.gateway_id == gateway_id
                and seat.in_world
                and seat.instance_id is not None
                and cid not in playing
                and cid not in self._entering
            ):
                del self._until[cid]
                out.append((cid, seat.instance_id, seat.epoch))
        return out
