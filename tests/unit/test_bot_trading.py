"""Two social bots see a trade through against a desk that keeps the real trade
rules (``social.trade``) and lets each side's news cross the other's replies."""

from __future__ import annotations

import asyncio
from typing import Any

from realmkit.client.social_bots import see_through
from realmkit.errors import RealmkitError, RemoteError
from realmkit.protocol.social import (
    Mailbox,
    MailList,
    TradeAccept,
    TradeCancel,
    TradeOffer,
    TradeSide,
    TradeWindow,
)
from realmkit.social.trade import Trade

A, B = 11, 12


class Side:
    """What ``see_through`` uses of a ``GameClient``."""

    def __init__(self, desk: Desk, character_id: int, money: int) -> None:
        self.desk = desk
        self.character_id = character_id
        self.money = money
        self.social: dict[str, Any] = {}
        self.social_news: asyncio.Queue[Any] = asyncio.Queue()

    def tell(self, news: TradeWindow) -> None:
        self.social["trade"] = news
        self.social_news.put_nowait(news)

    async def social_ask(self, message: object, expect: type[Any]) -> Any:
        await asyncio.sleep(0)  # the other side goes on meanwhile
        return self.desk.ask(self, message)


class Desk:
    """One trade between A and B; the asker is answered at once, the other side is
    told on the next turn of the loop (after the asker may have asked again)."""

    def __init__(self) -> None:
        self.trade = Trade(1, A, B)
        self.sides: dict[int, Side] = {}
        self.refused: list[str] = []

    def window(self, side: Side) -> TradeWindow:
        view = self.trade.view()
        mine, theirs = view.side(side.character_id), view.other(side.character_id)
        return TradeWindow(
            view.trade_id,
            f"Bot{theirs.character_id}",
            view.state.value,
            view.version,
            TradeSide(money=mine.money, accepted=mine.accepted),
            TradeSide(money=theirs.money, accepted=theirs.accepted),
            view.reason,
        )

    def open(self) -> None:
        for side in self.sides.values():
            side.tell(self.window(side))

    def ask(self, side: Side, message: object) -> object:
        if isinstance(message, MailList):
            return Mailbox([], side.money)
        try:
            if isinstance(message, TradeOffer):
                self.trade.offer(side.character_id, message.items, message.money)
            elif isinstance(message, TradeAccept):
                if self.trade.accept(side.character_id, message.version):
                    self.trade.commit()
            elif isinstance(message, TradeCancel):
                self.trade.cancel("cancelled")
        except RealmkitError as exc:
            self.refused.append(exc.code)
            raise RemoteError("gateway", exc.code, exc.message) from None
        other = self.sides[B if side.character_id == A else A]
        asyncio.get_running_loop().call_soon(other.tell, self.window(other))
        mine = self.window(side)
        side.tell(mine)
        return mine


def _pair(money_a: int, money_b: int) -> tuple[Desk, Side, Side]:
    desk = Desk()
    a, b = Side(desk, A, money_a), Side(desk, B, money_b)
    desk.sides = {A: a, B: b}
    return desk, a, b


async def test_both_sides_offer_once_and_accept_until_the_trade_commits() -> None:
    """Offers and accepts cross (stale accepts are refused on the way); both end on the
    committed trade, the side with money offering a coin and the other nothing."""
    desk, a, b = _pair(money_a=50, money_b=0)
    failures: list[BaseException] = []
    stop = asyncio.Event()
    desk.open()
    ended = await asyncio.gather(
        see_through(a, 0, stop, failures.append, patience=5.0),  # type: ignore[arg-type]
        see_through(b, 0, stop, failures.append, patience=5.0),  # type: ignore[arg-type]
    )
    assert ended == ["committed", "committed"]
    assert failures == []
    assert desk.refused == ["STALE_OFFER"]  # an accept of the first offer, crossed by the second
    assert desk.trade.offers[A].money == 1
    assert desk.trade.offers[B].money == 0


async def test_a_partner_who_never_answers_has_the_trade_cancelled() -> None:
    """Alone in its trade, a side gives up after its patience and cancels it."""
    desk, a, _ = _pair(money_a=0, money_b=0)
    desk.open()
    ended = await see_through(a, 0, asyncio.Event(), [].append, patience=0.2)  # type: ignore[arg-type]
    assert ended == "cancelled"
    assert desk.trade.state.value == "cancelled"


async def test_no_trade_opened_is_no_trade() -> None:
    """Nothing opened within its patience (or a finished older trade): None."""
    _, a, _ = _pair(money_a=0, money_b=0)
    assert await see_through(a, 0, asyncio.Event(), [].append, patience=0.1) is None  # type: ignore[arg-type]
