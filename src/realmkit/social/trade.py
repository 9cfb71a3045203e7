"""The rules of a player-to-player trade, without I/O.

Two sides each put up an offer (items and money) and accept what they see.

- Rule 1: every change of either offer grows the trade's ``version`` and
  resets both accepts: nobody is held to an offer they have not seen.
- Rule 2: an accept names the version it saw; an accept of an older version
  is refused (``StaleOffer``), never applied to the newer offers.
- Rule 3: the trade commits only when both sides accepted the current
  version; what it moves is exactly the offers of that version.
- Rule 4: an offer holds at most ``MAX_ITEMS`` distinct items and money in
  ``0..MONEY_CAP``; whether the items are the offerer's is the store's
  question (it checks at offer time and again, by compare-and-set, at commit).
- Rule 5: once committed or cancelled nothing changes (``TradeClosed``);
  the state moves follow ``realmkit.lifecycle.trade``.

``realmkit.store.trades`` loads a trade's row into a ``Trade``, calls it, and
writes back what it changed.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from realmkit.errors import Conflict, InvalidInput, NotFound, StaleOffer, TradeClosed
from realmkit.lifecycle import trade as lifecycle
from realmkit.lifecycle.trade import TradeEvent, TradeState

MAX_ITEMS = 12  # the schema's trade_offers CHECK and the mail's attachments
MONEY_CAP = 1_000_000_000_000  # the schema's money CHECKs
REASON_LENGTH = 200  # the schema's trades.reason CHECK


class Offer(msgspec.Struct, frozen=True):
    """What one side gives."""

    item_ids: tuple[int, ...] = ()
    money: int = 0


class SideView(msgspec.Struct, frozen=True):
    character_id: int
    item_ids: tuple[int, ...]
    money: int
    accepted: bool


class TradeView(msgspec.Struct, frozen=True):
    """A trade as both of its sides should see it."""

    trade_id: int
    state: TradeState
    version: int
    reason: str
    a: SideView
    b: SideView

    def side(self, character_id: int) -> SideView:
        """The side of ``character_id``."""
        if character_id == self.a.character_id:
            return self.a
        if character_id == self.b.character_id:
            return self.b
        raise NotFound("trade side", (self.trade_id, character_id))

    def other(self, character_id: int) -> SideView:
        """The side facing ``character_id``."""
        mine = self.side(character_id)
        return self.b if mine is self.a else self.a


class Exchange(msgspec.Struct, frozen=True):
    """What a commit moves: ``a`` gives ``a_gives`` to ``b``, and the other way."""

    trade_id: int
    version: int
    a_id: int
    b_id: int
    a_gives: Offer
    b_gives: Offer


def checked_offer(item_ids: Iterable[int], money: int) -> Offer:
    """An offer within Rule 4, or ``InvalidInput`` naming the rule it breaks."""
    items = tuple(item_ids)
    if len(items) > MAX_ITEMS:
        raise InvalidInput("item_ids", f"at most {MAX_ITEMS} items")
    if len(set(items)) != len(items):
        raise InvalidInput("item_ids", "an item is offered once")
    if any(i <= 0 for i in items):
        raise InvalidInput("item_ids", "item ids are positive")
    if not 0 <= money <= MONEY_CAP:
        raise InvalidInput("money", f"between 0 and {MONEY_CAP}")
    return Offer(items, money)


class Trade:
    """One trade's offers and accepts; see the module's rules."""

    def __init__(
        self,
        trade_id: int,
        a_id: int,
        b_id: int,
        *,
        state: TradeState = TradeState.OPEN,
        version: int = 0,
        offers: tuple[Offer, Offer] = (Offer(), Offer()),
        accepted: tuple[bool, bool] = (False, False),
        reason: str = "",
    ) -> None:
        if a_id == b_id:
            raise InvalidInput("b_id", "a character does not trade with itself")
        self.trade_id = trade_id
        self.a_id = a_id
        self.b_id = b_id
        self.state = state
        self.version = version
        self.offers = {a_id: offers[0], b_id: offers[1]}
        # The version each side accepted last (None: not accepted since the last change).
        self._accepted: dict[int, int | None] = {
            a_id: version if accepted[0] else None,
            b_id: version if accepted[1] else None,
        }
        self.reason = reason

    def _side(self, character_id: int) -> int:
        if character_id not in self.offers:
            raise NotFound("trade side", (self.trade_id, character_id))
        return character_id

    def _open(self, event: TradeEvent) -> None:
        if self.state is not TradeState.OPEN:
            raise TradeClosed(self.trade_id, self.state.value, self.reason)
        lifecycle.next_state(self.state, event)

    def accepted(self, character_id: int) -> bool:
        """Whether ``character_id`` accepted the current offers."""
        return self._accepted[self._side(character_id)] == self.version

    @property
    def ready(self) -> bool:
        """Both sides accepted the current version (Rule 3)."""
        return all(v == self.version for v in self._accepted.values())

    def offer(self, character_id: int, item_ids: Iterable[int], money: int) -> None:
        """``character_id`` now gives these; both accepts reset (Rule 1)."""
        side = self._side(character_id)
        self._open(TradeEvent.OFFER)
        self.offers[side] = checked_offer(item_ids, money)
        self.version += 1
        self._accepted = dict.fromkeys(self._accepted)

    def accept(self, character_id: int, version: int) -> bool:
        """``character_id`` accepts the offers of ``version``; True when both have."""
        side = self._side(character_id)
        self._open(TradeEvent.ACCEPT)
        if version != self.version:
            raise StaleOffer(self.trade_id, version, self.version)
        self._accepted[side] = version
        return self.ready

    def commit(self) -> Exchange:
        """The moves of the accepted offers; the trade is committed."""
        self._open(TradeEvent.COMMIT)
        if not self.ready:
            raise Conflict(
                f"trade {self.trade_id}: both sides must accept version {self.version}",
                trade_id=self.trade_id,
                version=self.version,
            )
        self.state = lifecycle.next_state(self.state, TradeEvent.COMMIT)
        return Exchange(
            self.trade_id,
            self.version,
            self.a_id,
            self.b_id,
            self.offers[self.a_id],
            self.offers[self.b_id],
        )

    def cancel(self, reason: str) -> None:
        """Call the trade off; nothing it offered moves."""
        self._open(TradeEvent.CANCEL)
        self.state = lifecycle.next_state(self.state, TradeEvent.CANCEL)
        self.reason = (reason.strip() or "cancelled")[:REASON_LENGTH]

    def view(self) -> TradeView:
        def side(character_id: int) -> SideView:
            offer = self.offers[character_id]
            return SideView(
                character_id,
                offer.item_ids,
                offer.money,
                self._accepted[character_id] == self.version,
            )

        return TradeView(
            self.trade_id, self.state, self.version, self.reason, side(self.a_id), side(self.b_id)
        )
