"""One player's session at a gateway, without I/O.

The driver feeds what the socket received (``receive``), the passage of time
(``timed_out``), and what the orchestrator says of the player (``seated``,
``transfer_started``, ``repointed``); the session answers with actions to
carry out. It never touches a socket, a bus or a clock.

States: AWAITING_HELLO -> ENTERING (ticket being checked, placement) ->
IN_WORLD -> CLOSED, and IN_WORLD -> ENTERING while a transfer moves the
player to another space. Rules:
- the first message must be ``hello`` (or ``resume``) within ``HELLO_TIMEOUT``
  seconds, of the protocol version this gateway speaks (another gets an
  ``UNSUPPORTED_VERSION`` error naming it, and the socket is closed, 4001);
- every message must decode to a known type and pass its checks, else the
  client gets an ``error`` frame and a strike; ``MAX_STRIKES`` strikes close
  the connection (1008);
- messages beyond the rate limit are dropped with a strike;
- queue and party messages (``queue_join``, ``party_invite``...) go to the
  matchmakers once the player has been in the world, transfers included (a
  match starts with one), as requests for the character this session
  authenticated (never an id from the client); so do the social messages
  (chat, friends, guilds, mail, trades, and the ``names`` and ``inventory``
  lookups), to the gateway's social service;
- inputs are forwarded only IN_WORLD; during ENTERING (also during a
  transfer, from ``transfer_pending`` until ``new_world``) they are dropped:
  the client reports its position again in the new space;
- a move must pass the shared validator's stateless check (finite, inside
  the map's bounds) before it is forwarded; the space runs the rest;
- a re-point names the space and epoch the player is in from now on: a
  ``fresh`` one starts the client over there (``new_world``, a keyframe from
  the new space's replication); without it only the space's node changed and
  the client sees nothing. A session that closed meanwhile refuses it, and
  the player is taken out of the space it was just put in.
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
    PROTOCOL_VERSION,
    ClientMessage,
    ErrorFrame,
    Hello,
    KeyframeRequest,
    MatchAccept,
    NewWorld,
    PartyAccept,
    PartyDecline,
    PartyInvite,
    PartyLeave,
    PartyMessage,
    QueueJoin,
    QueueLeave,
    QueueMessage,
    QueueStatusRequest,
    Resume,
    TransferPending,
)
from realmkit.protocol.cluster import Repoint
from realmkit.protocol.frames import replica_key
from realmkit.protocol.inputs import ClientInput, Move, Say
from realmkit.protocol.matchmaking import (
    AnswerInvitation,
    AnswerProposal,
    AskQueueStatus,
    InviteToParty,
    JoinQueue,
    LeaveParty,
    LeaveQueue,
    MatchmakerRequest,
)
from realmkit.protocol.social import SocialMessage
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
    """Check the world ticket, or (when ``resume`` is set) the resume token; a resume
    replays the chat after ``chat_after``."""

    ticket: str = ""
    resume: str = ""
    chat_after: int = 0


class Forward(msgspec.Struct, frozen=True):
    input: ClientInput


class WantKeyframe(msgspec.Struct, frozen=True):
    pass


class AskMatchmaker(msgspec.Struct, frozen=True):
    """A request for the matchmakers, on behalf of this session's character."""

    request: MatchmakerRequest


class AskSocial(msgspec.Struct, frozen=True):
    """A chat, friends, guild, mail, trade, names or inventory message, for this
    session's character."""

    message: SocialMessage


class Reply(msgspec.Struct, frozen=True):
    message: ErrorFrame | TransferPending | NewWorld


class StopReplicating(msgspec.Struct, frozen=True):
    """The player no longer observes this world through this gateway
    (``realmkit.protocol.frames.replica_key``: a space, or a continent's cells)."""

    replica: int


class LeaveSpace(msgspec.Struct, frozen=True):
    """Take the player out of a space it was put in under ``epoch``: nobody plays it."""

    instance_id: int
    epoch: int


class Close(msgspec.Struct, frozen=True):
    code: int
    reason: str


Action = (
    Authenticate
    | Forward
    | WantKeyframe
    | AskMatchmaker
    | AskSocial
    | Reply
    | StopReplicating
    | LeaveSpace
    | Close
)

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


def to_matchmaker(character_id: int, message: QueueMessage | PartyMessage) -> MatchmakerRequest:
    """A client's queue or party message as the request the matchmakers serve."""
    if isinstance(message, PartyInvite):
        return InviteToParty(character_id, message.name)
    if isinstance(message, PartyAccept | PartyDecline):
        return AnswerInvitation(character_id, message.party_id, isinstance(message, PartyAccept))
    if isinstance(message, PartyLeave):
        return LeaveParty(character_id)
    if isinstance(message, QueueJoin):
        return JoinQueue(character_id, message.activity, list(message.roles))
    if isinstance(message, QueueLeave):
        return LeaveQueue(character_id, message.activity)
    if isinstance(message, QueueStatusRequest):
        return AskQueueStatus(character_id, message.activity)
    return AnswerProposal(character_id, message.match_id, isinstance(message, MatchAccept))


class Connection:
    def __init__(self, opened_at: float) -> None:
        self.bounds: Bounds | None = None
        # Where the player is, once seated: (character, space, epoch), and the
        # continent when that space is one of its cells.
        self.character_id = 0
        self.instance_id = 0
        self.epoch = 0
        self.continent = 0
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

    @property
    def replica(self) -> int:
        """The world whose frames this player takes (``SpaceFrame.replica``)."""
        return replica_key(self.instance_id, self.continent)

    def seated(
        self, character_id: int, instance_id: int, epoch: int, bounds: Bounds, continent: int = 0
    ) -> None:
        """The orchestrator seated the player on entry (the driver sends ``new_world``)."""
        self.character_id, self.instance_id, self.epoch = character_id, instance_id, epoch
        self.continent = continent
        self.entered(bounds)

    def transferring(self) -> bool:
        """A transfer began: inputs are dropped until ``entered``; False if closed."""
        if self.state is ConnState.IN_WORLD:
            self.move(ConnState.ENTERING)
        return self.state is ConnState.ENTERING

    def transfer_started(self, reason: str) -> tuple[bool, list[Action]]:
        """The player is leaving its space: (still held, what to do)."""
        if not self.transferring():
            return False, []
        return True, [Reply(TransferPending(reason))]

    def repointed(self, message: Repoint, socket_open: bool) -> tuple[bool, list[Action]]:
        """The player plays in ``message``'s space under its epoch: (held, what to do)."""
        if self.state is ConnState.CLOSED or not socket_open:
            # Nobody plays it any more: out of the space it was just put in.
            return False, [LeaveSpace(message.instance_id, message.epoch)]
        # Re-points can overtake each other (a player crossing two borders in quick
        # succession, or crossing right after a restore seated it): epochs only grow,
        # so an older one does not move the player back. Only a transfer still
        # pending completes with it, where the newer one put the player.
        stale = message.epoch < self.epoch
        if stale and not (message.fresh and self.state is ConnState.ENTERING):
            return True, []
        actions: list[Action] = []
        if message.fresh or replica_key(message.instance_id, message.continent) != self.replica:
            actions.append(StopReplicating(self.replica))
        if not stale:
            self.instance_id, self.epoch = message.instance_id, message.epoch
            self.continent = message.continent
        if message.fresh:
            self.entered(message.bounds)
            world = NewWorld(
                self.character_id,
                self.instance_id,
                message.map_id,
                message.tick_rate,
                message.bounds,
            )
            actions.append(Reply(world))
        return True, actions

    def hello_deadline(self) -> float | None:
        """When ``timed_out`` closes a session still without its hello; None after it."""
        if self.state is ConnState.AWAITING_HELLO:
            return self.opened_at + HELLO_TIMEOUT
        return None

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
            if message.version != PROTOCOL_VERSION:
                refused = ErrorFrame(
                    "UNSUPPORTED_VERSION",
                    f"protocol version {message.version} is not spoken here: "
                    f"this gateway speaks version {PROTOCOL_VERSION}",
                )
                return [Reply(refused), *self.close(CLOSE_UNAUTHENTICATED, "unsupported version")]
            self.move(ConnState.ENTERING)
            if isinstance(message, Resume):
                return [Authenticate(resume=message.token, chat_after=message.chat_after)]
            return [Authenticate(ticket=message.ticket)]
        if self.state is ConnState.AWAITING_HELLO:
            return self.close(CLOSE_UNAUTHENTICATED, "the first message must be hello")
        if isinstance(message, QueueMessage | PartyMessage):
            # Queues outlive transfers: only a player never in the world yet can't use them.
            if self.bounds is None:
                self.dropped += 1
                return []
            return [AskMatchmaker(to_matchmaker(self.character_id, message))]
        if isinstance(message, SocialMessage):
            # Like queues: a player in a transfer still talks and trades.
            if self.bounds is None:
                self.dropped += 1
                return []
            return [AskSocial(message)]
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
