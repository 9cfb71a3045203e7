"""What the matchmakers' leader is fed and told to do: the book's inputs and outputs.

``TicketView`` and ``MatchView`` are a ticket's and a match's rows as the book
sees them (times as seconds since the epoch; the driver converts the rows).
The commands are what the leader carries out, in the order given, each one's
follow-up commands before the next one.
"""

from __future__ import annotations

import msgspec

from realmkit.lifecycle.match import MatchState
from realmkit.lifecycle.ticket import TicketState
from realmkit.matchmaking.rules import Ticket
from realmkit.protocol.client import MatchResult, QueueStatus


class TicketView(msgspec.Struct, frozen=True):
    """One ``matchmaking.tickets`` row: the queue's ``Ticket`` and where it stands."""

    ticket: Ticket
    pool_id: int
    activity: str
    state: TicketState
    match_id: int | None = None

    @property
    def ticket_id(self) -> int:
        return self.ticket.ticket_id

    @property
    def members(self) -> tuple[int, ...]:
        return self.ticket.members


class MatchView(msgspec.Struct, frozen=True):
    """One ``matchmaking.matches`` row."""

    match_id: int
    pool_id: int
    activity_id: str
    state: MatchState
    teams: list[list[int]]
    roles: dict[str, str]
    instance_id: int | None
    accept_deadline: float
    ends_at: float | None = None


# --- commands ------------------------------------------------------------------------


class LoadRules(msgspec.Struct, frozen=True):
    """Read the rules of a queue not open yet; then ``rules_loaded`` (or ``rules_failed``)."""

    pool_id: int
    activity: str


class NotQueued(msgspec.Struct, frozen=True):
    """A ticket that can never be matched in its queue: left where it is (say why)."""

    ticket_id: int
    reason: str


class Propose(msgspec.Struct, frozen=True):
    """Write the proposal; then ``proposed`` with its row, or ``proposal_refused``."""

    pool_id: int
    activity: str
    teams: list[list[int]]
    roles: dict[str, str]
    ticket_ids: tuple[int, ...]
    waited: tuple[float, ...] = ()  # seconds each ticket queued, for the metrics


class Prepare(msgspec.Struct, frozen=True):
    """Request the match's instance now, while its members decide."""

    match: MatchView


class Offer(msgspec.Struct, frozen=True):
    """Send every member the proposal, to answer within ``seconds_left``."""

    match: MatchView
    seconds_left: float


class Forget(msgspec.Struct, frozen=True):
    """The instance prepared for this match is nobody's any more."""

    match_id: int


class TryAccept(msgspec.Struct, frozen=True):
    """Move the match to accepted if all its tickets are; if so, ``accepted``."""

    match_id: int


class CallOff(msgspec.Struct, frozen=True):
    """Cancel the proposal (or the accepted match not running yet); then ``called_off``
    with ``told`` and the tickets requeued."""

    match: MatchView
    told: tuple[TicketView, ...]


class Expire(msgspec.Struct, frozen=True):
    """Cancel the silent tickets and the proposal; then ``called_off`` with the silent
    and the requeued."""

    match: MatchView


class Start(msgspec.Struct, frozen=True):
    """Start the match (instance, running, everyone in); then ``started`` or
    ``start_failed``. ``accepted_at`` is when it was accepted (for the log)."""

    match: MatchView
    accepted_at: float


class End(msgspec.Struct, frozen=True):
    """Record the result (None: a draw) and bring everyone home; then ``ended`` or
    ``end_failed``."""

    match: MatchView
    winner: int | None


class Deliver(msgspec.Struct, frozen=True):
    """Tell these characters (those in the world)."""

    members: tuple[int, ...]
    message: MatchResult | QueueStatus


class Reread(msgspec.Struct, frozen=True):
    """Read these tickets again and feed each to ``ticket_seen``."""

    ticket_ids: tuple[int, ...]


Command = (
    LoadRules
    | NotQueued
    | Propose
    | Prepare
    | Offer
    | Forget
    | TryAccept
    | CallOff
    | Expire
    | Start
    | End
    | Deliver
    | Reread
)
