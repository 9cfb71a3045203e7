"""Player-to-player trades, held in PostgreSQL (``social.trades``).

The rules (offers, accepts, what a commit moves) are ``realmkit.social.trade``:
each call loads the trade's row under a lock, asks the core, and writes back
what it changed, in one transaction.

A trade opens between two characters in the world and remembers both
assignment epochs. The accept that makes both sides accepted commits in its
own transaction: both assignments are locked and must still be in the world
under those epochs (a transfer, logout or crash recovery grows the epoch),
then the money moves and every item changes owner by compare-and-set. If any
of that fails, the trade is cancelled with the reason and nothing else
changes. Locks are taken in one order (assignments, characters by id, then
items), the order mail keeps too.
"""

from __future__ import annotations

from collections.abc import Sequence

from realmkit.errors import (
    AlreadyTrading,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotEnoughMoney,
    NotFound,
    NotInWorld,
    OwnershipChanged,
    StaleEpoch,
)
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.trade import TradeState
from realmkit.social.trade import REASON_LENGTH, Exchange, Offer, Trade, TradeView
from realmkit.store.mail import add_money, lock_characters
from realmkit.store.postgres import ConnectionLike, Database, translated


class _Loaded:
    """A trade's row as the core and the epochs it was opened under."""

    def __init__(self, trade: Trade, epochs: dict[int, int]) -> None:
        self.trade = trade
        self.epochs = epochs


class TradeRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, a_id: int, b_id: int) -> TradeView:
        """Open a trade between two characters in the world.

        ``NotInWorld`` if either is not, ``AlreadyTrading`` if either is in an open
        trade already.
        """
        if a_id == b_id:
            raise InvalidInput("b_id", "a character does not trade with itself")
        async with self.db.transaction() as conn:
            seats = {
                r["character_id"]: r
                for r in await conn.fetch(
                    "SELECT character_id, epoch, state FROM characters.player_assignments "
                    "WHERE character_id = ANY($1::bigint[])",
                    [a_id, b_id],
                )
            }
            for who in (a_id, b_id):
                seat = seats.get(who)
                if seat is None or seat["state"] != AssignmentState.IN_WORLD:
                    raise NotInWorld(who)
            busy = await conn.fetchrow(
                "SELECT character_id, trade_id FROM social.trade_offers "
                "WHERE open AND character_id = ANY($1::bigint[]) ORDER BY character_id LIMIT 1",
                [a_id, b_id],
            )
            if busy is not None:
                raise AlreadyTrading(busy["character_id"], busy["trade_id"])
            trade_id = await conn.fetchval(
                "INSERT INTO social.trades (a_id, b_id, a_epoch, b_epoch) "
                "VALUES ($1, $2, $3, $4) RETURNING trade_id",
                a_id,
                b_id,
                seats[a_id]["epoch"],
                seats[b_id]["epoch"],
            )
            # Two opens racing for one character: the unique index refuses the second.
            with translated({"trade_offers_one_open": lambda: AlreadyTrading(a_id)}):
                await conn.execute(
                    "INSERT INTO social.trade_offers (trade_id, character_id, open) "
                    "VALUES ($1, $2, true), ($1, $3, true)",
                    trade_id,
                    a_id,
                    b_id,
                )
        return Trade(trade_id, a_id, b_id).view()

    async def offer(
        self, trade_id: int, character_id: int, item_ids: Sequence[int], money: int
    ) -> TradeView:
        """``character_id`` now gives these items and money; both accepts reset.

        The items must be the offerer's now (``OwnershipChanged``) and the money in
        its purse (``NotEnoughMoney``); both are checked again at commit.
        """
        async with self.db.transaction() as conn:
            loaded = await _load(conn, trade_id)
            trade = loaded.trade
            trade.offer(character_id, item_ids, money)
            offer = trade.offers[character_id]
            if offer.item_ids:
                owned = {
                    r["item_id"]
                    for r in await conn.fetch(
                        "SELECT item_id FROM characters.items WHERE item_id = ANY($1::bigint[]) "
                        "AND owner_character_id = $2",
                        list(offer.item_ids),
                        character_id,
                    )
                }
                missing = set(offer.item_ids) - owned
                if missing:
                    raise OwnershipChanged(min(missing), character_id)
            purse = await conn.fetchval(
                "SELECT money FROM characters.characters WHERE character_id = $1", character_id
            )
            if purse is None or purse < offer.money:
                raise NotEnoughMoney(character_id, offer.money)
            await conn.execute(
                "UPDATE social.trades SET version = $2, updated_at = now() WHERE trade_id = $1",
                trade_id,
                trade.version,
            )
            await conn.execute(
                "UPDATE social.trade_offers SET accepted = false, "
                "item_ids = CASE WHEN character_id = $2 THEN $3::bigint[] ELSE item_ids END, "
                "money = CASE WHEN character_id = $2 THEN $4 ELSE money END, "
                "version = CASE WHEN character_id = $2 THEN $5 ELSE version END "
                "WHERE trade_id = $1",
                trade_id,
                character_id,
                list(offer.item_ids),
                offer.money,
                trade.version,
            )
        return trade.view()

    async def accept(self, trade_id: int, character_id: int, version: int) -> TradeView:
        """``character_id`` accepts the offers of ``version`` (``StaleOffer`` if they
        changed since). When both sides have, the trade commits in this transaction;
        if it cannot, it is cancelled (state CANCELLED, ``reason`` says why) and
        nothing else changes."""
        async with self.db.transaction() as conn:
            loaded = await _load(conn, trade_id)
            trade = loaded.trade
            both = trade.accept(character_id, version)
            await conn.execute(
                "UPDATE social.trade_offers SET accepted = true "
                "WHERE trade_id = $1 AND character_id = $2",
                trade_id,
                character_id,
            )
            if not both:
                await conn.execute(
                    "UPDATE social.trades SET updated_at = now() WHERE trade_id = $1", trade_id
                )
                return trade.view()
            exchange = trade.commit()
            try:
                async with conn.transaction():  # a savepoint: a failed commit leaves nothing
                    await _commit(conn, exchange, loaded.epochs)
            except Conflict as failed:
                trade = (await _load(conn, trade_id)).trade
                trade.cancel(f"{failed.code}: {failed.message}")
                await _finish(conn, trade)
                return trade.view()
            await _finish(conn, trade)
        return trade.view()

    async def cancel(self, trade_id: int, character_id: int, reason: str) -> TradeView:
        """Either side calls the trade off; ``TradeClosed`` once it is finished."""
        async with self.db.transaction() as conn:
            trade = (await _load(conn, trade_id)).trade
            if character_id not in trade.offers:
                raise NotFound("trade side", (trade_id, character_id))
            trade.cancel(reason)
            await _finish(conn, trade)
        return trade.view()

    async def cancel_for(self, character_id: int, reason: str) -> TradeView | None:
        """Cancel the open trade of ``character_id``, if any (it leaves or transfers)."""
        async with self.db.transaction() as conn:
            trade_id = await conn.fetchval(
                "SELECT trade_id FROM social.trade_offers WHERE open AND character_id = $1",
                character_id,
            )
            if trade_id is None:
                return None
            trade = (await _load(conn, trade_id)).trade
            if trade.state is not TradeState.OPEN:  # committed meanwhile
                return None
            trade.cancel(reason)
            await _finish(conn, trade)
        return trade.view()

    async def open_of(self, character_id: int) -> TradeView | None:
        """The open trade of ``character_id``, as both sides see it."""
        async with self.db.connection() as conn:
            trade_id = await conn.fetchval(
                "SELECT trade_id FROM social.trade_offers WHERE open AND character_id = $1",
                character_id,
            )
            if trade_id is None:
                return None
            return (await _load(conn, trade_id, lock=False)).trade.view()

    async def get(self, trade_id: int) -> TradeView:
        """Any trade, finished ones too."""
        async with self.db.connection() as conn:
            return (await _load(conn, trade_id, lock=False)).trade.view()


_LOAD = "SELECT * FROM social.trades WHERE trade_id = $1"
_LOAD_LOCKED = _LOAD + " FOR UPDATE"


async def _load(conn: ConnectionLike, trade_id: int, *, lock: bool = True) -> _Loaded:
    query = _LOAD_LOCKED if lock else _LOAD
    row = await conn.fetchrow(query, trade_id)
    if row is None:
        raise NotFound("trade", trade_id)
    sides = {
        r["character_id"]: r
        for r in await conn.fetch("SELECT * FROM social.trade_offers WHERE trade_id = $1", trade_id)
    }
    a, b = sides[row["a_id"]], sides[row["b_id"]]
    trade = Trade(
        trade_id,
        row["a_id"],
        row["b_id"],
        state=TradeState(row["state"]),
        version=row["version"],
        offers=(Offer(tuple(a["item_ids"]), a["money"]), Offer(tuple(b["item_ids"]), b["money"])),
        accepted=(a["accepted"], b["accepted"]),
        reason=row["reason"],
    )
    return _Loaded(trade, {row["a_id"]: row["a_epoch"], row["b_id"]: row["b_epoch"]})


async def _commit(conn: ConnectionLike, exchange: Exchange, epochs: dict[int, int]) -> None:
    """Move both offers, or raise (a ``Conflict``) having changed nothing that stays."""
    seats = await conn.fetch(
        "SELECT character_id, epoch, state FROM characters.player_assignments "
        "WHERE character_id = ANY($1::bigint[]) ORDER BY character_id FOR UPDATE",
        sorted(epochs),
    )
    found = {r["character_id"]: r for r in seats}
    for who, epoch in sorted(epochs.items()):
        seat = found.get(who)
        if seat is None or seat["state"] != AssignmentState.IN_WORLD:
            raise NotInWorld(who)
        if seat["epoch"] != epoch:
            raise StaleEpoch(who, epoch)
    await lock_characters(conn, list(epochs))
    gives = {exchange.a_id: exchange.a_gives, exchange.b_id: exchange.b_gives}
    takes = {exchange.a_id: exchange.b_gives, exchange.b_id: exchange.a_gives}
    for who in sorted(gives):
        net = takes[who].money - gives[who].money
        if net:
            try:
                await add_money(conn, who, net)
            except NotEnoughMoney:
                raise NotEnoughMoney(who, gives[who].money) from None
    for giver, receiver in ((exchange.a_id, exchange.b_id), (exchange.b_id, exchange.a_id)):
        item_ids = list(gives[giver].item_ids)
        if not item_ids:
            continue
        moved = await conn.fetch(
            "UPDATE characters.items SET owner_character_id = $3, slot = NULL "
            "WHERE item_id = ANY($1::bigint[]) AND owner_character_id = $2 RETURNING item_id",
            item_ids,
            giver,
            receiver,
        )
        missing = set(item_ids) - {r["item_id"] for r in moved}
        if missing:
            raise OwnershipChanged(min(missing), giver)


async def _finish(conn: ConnectionLike, trade: Trade) -> None:
    """Write the trade's final state (its offers close with it, by the cascade)."""
    with translated(illegal=lambda: IllegalTransition("trade", "open", trade.state.value)):
        await conn.execute(
            "UPDATE social.trades SET state = $2, reason = $3, updated_at = now() "
            "WHERE trade_id = $1",
            trade.trade_id,
            trade.state.value,
            trade.reason[:REASON_LENGTH],
        )
    if trade.state is TradeState.COMMITTED:
        await conn.execute(
            "UPDATE social.trade_offers SET accepted = true WHERE trade_id = $1", trade.trade_id
        )
