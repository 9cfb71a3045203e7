"""The client protocol over WebSocket (DESIGN.md §6), version 1.

Binary frames are msgpack, text frames JSON (for debugging); both carry the
same tagged messages, ``t`` naming the type. A client's first message must be
``hello`` with its world ticket (or ``resume`` with a resume token, after its
gateway died), within 5 seconds.

Client -> gateway: ``hello`` or ``resume``, the inputs of ``realmkit.protocol.inputs``
(``move``, ``attack``, ``cast``, ``release``, ``say``), ``keyframe``, and the
queue messages (``queue_join``, ``queue_leave``, ``queue_status``,
``match_accept``, ``match_decline``), the party messages (``party_invite``,
``party_accept``, ``party_decline``, ``party_leave``), and the social messages of
``realmkit.protocol.social`` (chat, friends, ``who``, guilds, mail, trades, and
the lookups ``names`` and ``inventory``).
Gateway -> client: ``new_world``, ``frame`` (see ``protocol.frames``),
``transfer_pending``, the sim's player events (``chat``, ``correct``,
``rejected``, ``loot``, ``died``, ``portal``), ``queue_status``,
``match_proposal``, ``match_result``, ``party``, ``party_invitation``, ``announce``,
the social news of ``realmkit.protocol.social`` (``chat_message``, ``presence``,
``friends``, ``who_result``, ``guild``, ``mailbox``, ``trade``, ``names``,
``inventory``...), ``error``,
``reconnect`` (the gateway is stopping: resume elsewhere, then closed with 4003).

Every message has an example, as JSON and as its exact msgpack bytes, in
``tests/fixtures/protocol/`` (for clients in other languages).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from realmkit.content.schema import Bounds
from realmkit.protocol.inputs import Attack, Cast, Move, Release, Say
from realmkit.protocol.social import SocialMessage, Target

PROTOCOL_VERSION = 1

Ticket = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


ChatId = Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class Hello(msgspec.Struct, frozen=True, tag_field="t", tag="hello", forbid_unknown_fields=True):
    ticket: Ticket
    version: int = PROTOCOL_VERSION


ResumeToken = Annotated[str, msgspec.Meta(min_length=16, max_length=128)]


class Resume(msgspec.Struct, frozen=True, tag_field="t", tag="resume", forbid_unknown_fields=True):
    """Instead of ``hello``, after losing a gateway: come back with the token of the
    last ``new_world``, through any gateway, within the resume grace period."""

    token: ResumeToken
    version: int = PROTOCOL_VERSION
    # The ``id`` of the last ``chat_message`` you got: what you missed since (the last
    # ten minutes at most) comes again after ``new_world``, each once, in order.
    chat_after: ChatId = 0


class KeyframeRequest(msgspec.Struct, frozen=True, tag_field="t", tag="keyframe"):
    """The client saw a gap in frame sequence numbers."""


ActivityKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
RoleName = Literal["tank", "healer", "damage"]
MatchId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]


class QueueJoin(msgspec.Struct, frozen=True, tag_field="t", tag="queue_join"):
    """Queue for an activity of your game (``battleground``, ``arena2v2``, ``arena3v3``,
    ``dungeon``); ``roles`` you can fill (dungeon finder; empty: any). Joining again
    answers ``ALREADY_QUEUED``. Reply: ``queue_status``."""

    activity: ActivityKey
    roles: Annotated[list[RoleName], msgspec.Meta(max_length=3)] = []


class QueueLeave(msgspec.Struct, frozen=True, tag_field="t", tag="queue_leave"):
    """Leave the queue of an activity. Reply: ``queue_status`` (state ``cancelled``)."""

    activity: ActivityKey


class QueueStatusRequest(msgspec.Struct, frozen=True, tag_field="t", tag="queue_status"):
    """Where you stand in the queue of ``activity``. Reply: ``queue_status``."""

    activity: ActivityKey


class MatchAccept(msgspec.Struct, frozen=True, tag_field="t", tag="match_accept"):
    """Accept a ``match_proposal`` before its time runs out."""

    match_id: MatchId


class MatchDecline(msgspec.Struct, frozen=True, tag_field="t", tag="match_decline"):
    """Decline a ``match_proposal``: you leave the queue, the others keep their place."""

    match_id: MatchId


PartyId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]


class PartyInvite(msgspec.Struct, frozen=True, tag_field="t", tag="party_invite"):
    """Invite a character in the world into your party (you lead it; a party is made
    if you have none): ``Name`` on your realm, ``Name-Realm`` on another realm of your
    pool (a party of several realms queues for the pool's battlegrounds, arenas and
    dungeon finder together). It gets ``party_invitation``. Reply: ``party``."""

    name: Target


class PartyAccept(msgspec.Struct, frozen=True, tag_field="t", tag="party_accept"):
    """Join the party of a ``party_invitation`` (within a minute). Reply: ``party``."""

    party_id: PartyId


class PartyDecline(msgspec.Struct, frozen=True, tag_field="t", tag="party_decline"):
    """Turn a ``party_invitation`` down. Reply: ``party`` (yours)."""

    party_id: PartyId


class PartyLeave(msgspec.Struct, frozen=True, tag_field="t", tag="party_leave"):
    """Leave your party (a leader hands over to the member who joined first). Reply:
    ``party`` (none)."""


QueueMessage = QueueJoin | QueueLeave | QueueStatusRequest | MatchAccept | MatchDecline
PartyMessage = PartyInvite | PartyAccept | PartyDecline | PartyLeave

ClientMessage = (
    Hello
    | Resume
    | KeyframeRequest
    | Move
    | Attack
    | Cast
    | Release
    | Say
    | QueueJoin
    | QueueLeave
    | QueueStatusRequest
    | MatchAccept
    | MatchDecline
    | PartyInvite
    | PartyAccept
    | PartyDecline
    | PartyLeave
    | SocialMessage
)


class NewWorld(msgspec.Struct, frozen=True, tag_field="t", tag="new_world"):
    """You are in this space now; frames for it follow (never before this)."""

    character_id: int
    instance_id: int
    map_id: int
    tick_rate: int
    # The map's playable area: a move outside it is refused (and repeated, cut off).
    bounds: Bounds
    # A fresh resume token on entering (keep it secret; each token resumes once);
    # empty after a transfer: the one held stays valid.
    resume: str = ""


class TransferPending(msgspec.Struct, frozen=True, tag_field="t", tag="transfer_pending"):
    """You are moving to another space (``reason``: portal, transfer, recovery,
    restart: the realm's spaces start again and you come back where you stood).

    Inputs sent from now until ``new_world`` are dropped; after ``new_world``
    the client starts a new entity table and reports its position again.
    """

    reason: str


class QueueStatus(msgspec.Struct, frozen=True, tag_field="t", tag="queue_status"):
    """Your ticket for ``activity``: ``state`` queued, proposed, accepted, in_match,
    done or cancelled (``none``: not queued); ``position`` 1-based while queued (0:
    unknown for a moment, e.g. during a matchmaker failover); ``estimated_wait`` in
    seconds."""

    activity: str
    state: str
    ticket_id: int = 0
    position: int = 0
    estimated_wait: float = 0.0


class MatchProposal(msgspec.Struct, frozen=True, tag_field="t", tag="match_proposal"):
    """A group was found: ``match_accept`` or ``match_decline`` within ``accept_within``
    seconds. ``team`` is yours (1-based), ``role`` the one you fill (dungeon finder)."""

    match_id: int
    activity: str
    accept_within: float
    team: int
    role: str = ""


class PartyMember(msgspec.Struct, frozen=True):
    """A member; ``realm`` is the name of its realm (a party may span a pool's realms:
    a client shows ``Name-Realm`` for members of another realm than its own)."""

    character_id: int
    name: str
    level: int
    realm: str = ""


class PartyState(msgspec.Struct, frozen=True, tag_field="t", tag="party"):
    """Your party (``party_id`` 0: you are in none), sent as the reply to a party
    message and whenever it changes. ``members`` lead with the leader. Only the
    leader queues the party (``queue_join``): one ticket for all, proposals and
    results to every member. A change of members cancels the party's tickets
    that are not in a match yet."""

    party_id: int = 0
    leader_id: int = 0
    members: list[PartyMember] = []


class PartyInvitation(msgspec.Struct, frozen=True, tag_field="t", tag="party_invitation"):
    """``inviter`` invites you into its party: ``party_accept`` or ``party_decline``.
    ``inviter`` is ``Name-Realm`` when it plays on another realm than yours."""

    party_id: int
    inviter: str
    expires_in: float


Outcome = Literal["win", "loss", "draw", "cancelled"]


class MatchResult(msgspec.Struct, frozen=True, tag_field="t", tag="match_result"):
    """How a match ended for you: ``outcome`` win, loss, draw, or cancelled (someone
    declined or did not answer; you are queued again unless you declined). ``rating``
    is your new rating in a rated activity (0 otherwise)."""

    match_id: int
    activity: str
    outcome: Outcome
    winner: int = 0
    rating: int = 0
    rating_change: int = 0


class ErrorFrame(msgspec.Struct, frozen=True, tag_field="t", tag="error"):
    code: str
    message: str


class Reconnect(msgspec.Struct, frozen=True, tag_field="t", tag="reconnect"):
    """This gateway is stopping (a rolling restart): your character stays in the world,
    seated as it is. Send ``resume`` with the token you hold to the gateway at ``url``
    (empty: any other gateway you know) within the resume grace period. The socket is
    closed next with ``CLOSE_MOVED``."""

    url: str


class Announcement(msgspec.Struct, frozen=True, tag_field="t", tag="announce"):
    """A message from the realm to every player in it. ``kind``: ``restart`` (the
    realm restarts in ``seconds``: everyone is saved, and comes back where they
    stand after a ``transfer_pending`` with reason ``restart``),
    ``restart_cancelled``, ``system`` (an operator's message), or to one player
    ``muted`` (an operator muted you for ``seconds``; ``text`` says why) and
    ``unmuted``."""

    kind: str
    text: str
    seconds: int = 0


# WebSocket close codes the gateway uses.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008  # abuse: floods, repeated malformed messages
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013  # too many sockets waiting for their hello from your address
CLOSE_UNAUTHENTICATED = 4001
CLOSE_REPLACED = 4002  # the same character connected again elsewhere
# The gateway is stopping and told the client where to go (``reconnect``): the
# character stays in the world, the client resumes with its token.
CLOSE_MOVED = 4003
