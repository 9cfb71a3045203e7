"""Messages of the matchmakers (never seen by players as such).

Gateways turn a player's queue and party messages into requests on
``MATCHMAKER_REQUESTS`` (one replica of the queue group answers) carrying the
character the gateway authenticated, never an id the client chose. Replicas
write the tickets and tell the leader on ``MATCHMAKER_NEWS``; the leader
reaches players through their gateway (``gateway.<id>.deliver``).
"""

from __future__ import annotations

import msgspec

from realmkit.protocol.client import (
    Announcement,
    MatchProposal,
    MatchResult,
    PartyInvitation,
    PartyState,
    QueueStatus,
)
from realmkit.protocol.social import SocialNews

# --- gateway -> any matchmaker replica (reply: QueueStatus) -------------------
# Who queues with the character (its party) is read from PostgreSQL, not sent.


class JoinQueue(msgspec.Struct, frozen=True, tag_field="t", tag="join"):
    character_id: int
    activity: str
    roles: list[str] = []


class LeaveQueue(msgspec.Struct, frozen=True, tag_field="t", tag="leave"):
    character_id: int
    activity: str


class AskQueueStatus(msgspec.Struct, frozen=True, tag_field="t", tag="status"):
    character_id: int
    activity: str


class AnswerProposal(msgspec.Struct, frozen=True, tag_field="t", tag="answer"):
    character_id: int
    match_id: int
    accept: bool


# --- parties (reply: PartyState) ---------------------------------------------------


class InviteToParty(msgspec.Struct, frozen=True, tag_field="t", tag="invite"):
    character_id: int
    name: str


class AnswerInvitation(msgspec.Struct, frozen=True, tag_field="t", tag="invitation"):
    character_id: int
    party_id: int
    accept: bool


class LeaveParty(msgspec.Struct, frozen=True, tag_field="t", tag="leave_party"):
    character_id: int


QueueRequest = JoinQueue | LeaveQueue | AskQueueStatus | AnswerProposal
PartyRequest = InviteToParty | AnswerInvitation | LeaveParty
MatchmakerRequest = QueueRequest | PartyRequest
MatchmakerReply = QueueStatus | PartyState


# --- replicas -> the leader (MATCHMAKER_NEWS) ----------------------------------


class TicketChanged(msgspec.Struct, frozen=True, tag_field="t", tag="ticket"):
    """A ticket was queued, left, or answered: the leader reads it again."""

    ticket_id: int


class WhereInQueue(msgspec.Struct, frozen=True, tag_field="t", tag="where"):
    """Ask the leader for a ticket's position and estimated wait. Reply: QueueStatus."""

    ticket_id: int


# --- a leader (matchmakers', orchestrators') -> a gateway's players ------------
# (gateway.<id>.deliver)


PlayerNews = (
    QueueStatus
    | MatchProposal
    | MatchResult
    | PartyState
    | PartyInvitation
    | Announcement
    | SocialNews
)


class ToPlayers(msgspec.Struct, frozen=True):
    character_ids: list[int]
    message: PlayerNews


# --- a match space -> the matchmakers (space.<id>.result) ----------------------


class MatchDecided(msgspec.Struct, frozen=True):
    """A match space's win rule picked ``winner`` (1-based team)."""

    instance_id: int
    winner: int
