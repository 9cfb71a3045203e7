"""One player's connection protocol, without I/O.

The driver feeds what the socket received (``receive``) and the passage of
time (``timed_out``); the connection answers with actions to carry out. It
never touches a socket, a bus or a clock.

States: AWAITING_HELLO -> ENTERING (ticket being checked, placement) ->
IN_WORLD -> CLOSED, and IN_WORLD -> ENTERING while a transfer moves the
player to another space. Rules:
- the first message must be ``hello`` (or ``resume``) within ``HELLO_TIMEOUT``
  seconds;
- every message must decode to a known type and pass its checks, else the
  client gets an ``error`` frame and a strike; ``MAX_STRIKES`` strikes close
  the connection (1008);
- messages beyond the rate limit are dropped with a strike;
- queue and party messages (``queue_join``, ``party_invite``...) go to the
  matchmakers once the player has been in the world, transfers included (a
  match starts with one);
- inputs are forwarded only IN_WORLD; during ENTERING (also during a
  transfer, from ``transfer_pending`` until ``new_world``) they are dropped:
  the client reports its position again in the new space;
- a move must pass the shared validator's stateless check (finite, inside
  the map's bounds) before it is forwarded; the space runs the rest.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final

import msgspec

from realmkit.auth.limits import TokenBucket
from realmkit.content.schema import Bounds
from realmkit.errors import IllegalTransition
from realmkit.protocol.client import (
    CLOSE_POLICY,
    CLOSE_UNAUTHENTICATED,
    ClientMessage,
    ErrorFrame,
    Hello,
    KeyframeRequest,
    PartyMessage,
    QueueMessage,
    Resume,
)
from realmkit.protocol.inputs import ClientInput, Move, Say
from realmkit.sim.movement import check_position

HELLO_TIMEOUT: Final = 5.0
MAX_STRIKES: Final = 10
RATE: Final = 60.0  # messages per second, sustained
BURST: Final = 120.0
MAX_SAY: Final = 255
MAX_ID: Final = 2**62


class ConnState(StrEnum):
    AWAITING_HELLO = "awaiting_hello"
    ENTERING = "entering"
    IN_WORLD = "in_world"
    CLOSED = "closed"


_ALLOWED = {
    ConnState.AWAITING_HELLO: {ConnState.ENTERING, ConnState.CLOSED},
    ConnState.ENTERING: {ConnState.IN_WORLD, ConnState.CLOSED},
    ConnState.IN_WORLD: {ConnState.ENTERING, ConnState.CLOSED},
    ConnState.CLOSED: set[ConnState](),
}


class Authenticate(msgspec.Struct, frozen=True):
    """Check the world ticket, or (when ``resume`` is set) the resume token."""

    ticket: str = ""
    resume: str = ""


class Forward(msgspec.Struct, frozen=True):
    input: ClientInput


class WantKeyframe(msgspec.Struct, frozen=True):
    pass


class AskMatchmaker(msgspec.Struct, frozen=True):
    """A queue or party message, for the matchmakers (on behalf of this connection's
    character)."""

    message: QueueMessage | PartyMessage


class Reply(msgspec.Struct, frozen=True):
    message: ErrorFrame


class Close(msgspec.Struct, frozen=True):
    code: int
    reason: str


Action = Authenticate | Forward | WantKeyframe | AskMatchmaker | Reply | Close

_binary = msgspec.msgpack.Decoder(ClientMessage)
_text = msgspec.json.Decoder(ClientMessage)


def _valid(message: ClientMessage) -> str | None:
    """Why ``message`` is unacceptable, or None."""
    if isinstance(message, Move):
        if not all(math.isfinite(v) for v in (message.x, message.y, message.z, message.o)):
            return "position must be finite"
        if not (0 <= message.seq < MAX_ID and 0 <= message.client_time_ms < MAX_ID):
            return "seq and client_time_ms must be non-negative 62-bit integers"
    elif isinstance(message, Say):
        if not 0 < len(message.text) <= MAX_SAY or not message.text.isprintable():
            return f"say: 1-{MAX_SAY} printable characters"
    elif hasattr(message, "target") and not 0 <= abs(message.target) < MAX_ID:
        return "target out of range"
    return None


class Connection:
    def __init__(self, opened_at: float) -> None:
        self.bounds: Bounds | None = None
        self.state = ConnState.AWAITING_HELLO
        self.opened_at = opened_at
        self.strikes = 0
        self.dropped = 0
        self.bucket = TokenBucket(RATE, BURST, opened_at)

    def move(self, target: ConnState) -> None:
        if target not in _ALLOWED[self.state]:
            raise IllegalTransition("connection", self.state.value, target.value)
        self.state = target

    def entered(self, bounds: Bounds) -> None:
        """The player is in a space of a map with these bounds."""
        if self.state is not ConnState.IN_WORLD:
            self.move(ConnState.IN_WORLD)
        self.bounds = bounds

    def transferring(self) -> bool:
        """A transfer began: inputs are dropped until ``entered``; False if closed."""
        if self.state is ConnState.IN_WORLD:
            self.move(ConnState.ENTERING)
        return self.state is ConnState.ENTERING

    def timed_out(self, now: float) -> list[Action]:
        if self.state is ConnState.AWAITING_HELLO and now - self.opened_at >= HELLO_TIMEOUT:
            return self.close(CLOSE_UNAUTHENTICATED, "no hello in time")
        return []

    def close(self, code: int, reason: str) -> list[Action]:
        if self.state is ConnState.CLOSED:
            return []
        self.move(ConnState.CLOSED)
        return [Close(code, reason)]

    def receive(self, data: bytes | str, now: float) -> list[Action]:
        if self.state is ConnState.CLOSED:
            return []
        if not self.bucket.take(now):
            self.dropped += 1
            return self._strike("RATE_LIMITED", "too many messages")
        try:
            message = _binary.decode(data) if isinstance(data, bytes) else _text.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._strike("BAD_MESSAGE", str(exc)[:200])
        problem = _valid(message)
        if problem is not None:
            return self._strike("BAD_MESSAGE", problem)
        if isinstance(message, Hello | Resume):
            if self.state is not ConnState.AWAITING_HELLO:
                return self._strike("BAD_MESSAGE", "hello was already sent")
            self.move(ConnState.ENTERING)
            if isinstance(message, Resume):
                return [Authenticate(resume=message.token)]
            return [Authenticate(ticket=message.ticket)]
        if self.state is ConnState.AWAITING_HELLO:
            return self.close(CLOSE_UNAUTHENTICATED, "the first message must be hello")
        if isinstance(message, QueueMessage | PartyMessage):
            # Queues outlive transfers: only a player never in the world yet can't use them.
            if self.bounds is None:
                self.dropped += 1
                return []
            return [AskMatchmaker(message)]
        if self.state is not ConnState.IN_WORLD:
            self.dropped += 1
            return []
        if isinstance(message, KeyframeRequest):
            return [WantKeyframe()]
        if isinstance(message, Move) and self.bounds is not None:
            where = check_position(self.bounds, message.x, message.y, message.z, message.o)
            if where != "ok":
                return self._strike("BAD_MOVE", where)
        return [Forward(message)]

    def _strike(self, code: str, detail: str) -> list[Action]:
        self.strikes += 1
        if self.strikes >= MAX_STRIKES:
            return self.close(CLOSE_POLICY, "too many bad messages")
        return [Reply(ErrorFrame(code, detail))]
