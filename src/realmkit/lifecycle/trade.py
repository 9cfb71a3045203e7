"""The player-to-player trade lifecycle, as data (``social.trades.state``).

open -> committed | cancelled.

- Rule 1: a character is in one OPEN trade at most (the schema's unique index
  over both sides' offers).
- Rule 2: while OPEN, each side may change its offer (``OFFER``) and accept
  (``ACCEPT``) what it saw; both leave it OPEN (``realmkit.social.trade``
  keeps the offers and accepts).
- Rule 3: it is COMMITTED (``COMMIT``) only when both sides accepted the
  current offers, and then every item and coin moves in one transaction.
- Rule 4: it is CANCELLED (``CANCEL``) by either side, by a side leaving its
  space (logout, transfer, crash recovery: the assignment epoch changed), or
  by a commit that failed; a cancelled trade moved nothing.
- Rule 5: COMMITTED and CANCELLED are final; trading again opens a new trade.

The same moves are enforced by PostgreSQL (``social.trade_moves`` and its
trigger, migration 0019); a test keeps ``MOVES`` and that table identical.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class TradeState(StrEnum):
    """Values are the ``social.trades.state`` CHECK constraint's."""

    OPEN = "open"
    COMMITTED = "committed"
    CANCELLED = "cancelled"


class TradeEvent(Enum):
    OFFER = auto()  # a side changed what it gives
    ACCEPT = auto()  # a side accepted the offers it saw
    COMMIT = auto()  # both accepted the current offers: everything moved
    CANCEL = auto()  # called off, a side left, or the commit failed


T = TradeState
E = TradeEvent

TRANSITIONS: dict[tuple[TradeState, TradeEvent], TradeState] = {
    (T.OPEN, E.OFFER): T.OPEN,
    (T.OPEN, E.ACCEPT): T.OPEN,
    (T.OPEN, E.COMMIT): T.COMMITTED,
    (T.OPEN, E.CANCEL): T.CANCELLED,
}

LIFECYCLE: Lifecycle[TradeState, TradeEvent] = Lifecycle("trade", TradeState, TRANSITIONS)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
LIVE = LIFECYCLE.live
next_state = LIFECYCLE.next_state
check_move = LIFECYCLE.check_move
sources = LIFECYCLE.sources
target = LIFECYCLE.target
