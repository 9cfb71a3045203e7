"""Trades in PostgreSQL: a commit moves exactly the accepted offers in one transaction,
and a trade that cannot commit (a side moved, an item gone) is cancelled having moved
nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from test_mail_store import give, owners, totals
from test_matchmaking_store import _players

from realmkit.errors import (
    AlreadyTrading,
    NotInWorld,
    OwnershipChanged,
    StaleOffer,
    TradeClosed,
)
from realmkit.lifecycle.trade import TradeState
from realmkit.store.mail import MailRepo
from realmkit.store.postgres import Database
from realmkit.store.trades import TradeRepo


async def in_world(db: Database, pool_id: int, *character_ids: int) -> None:
    """Seat the characters in one dungeon instance at epoch 1."""
    async with db.connection() as conn:
        instance = await conn.fetchval(
            "INSERT INTO characters.instances (game_id, map_id, kind, pool_id, capacity) "
            "VALUES ('classic', 1, 'dungeon', $1, 10) RETURNING instance_id",
            pool_id,
        )
        for character_id in character_ids:
            await conn.execute(
                "INSERT INTO characters.player_assignments (character_id, instance_id, epoch, "
                "state) VALUES ($1, $2, 1, 'in_world')",
                character_id,
                instance,
            )


async def _two_traders(db: Database, count: int = 2) -> list[int]:
    pool_id, players = await _players(db, count)
    ids = [p.character_id for p in players]
    await in_world(db, pool_id, *ids)
    return ids


async def test_both_accept_and_the_offers_change_hands(db: Database) -> None:
    """Aria gives two items and 30 money, Bran one item; both accept version 2: the
    trade commits, every item and coin is on the other side, the totals unchanged."""
    a, b = await _two_traders(db)
    mine = await give(db, a, 2, 50)
    his = await give(db, b, 1, 5)
    trades = TradeRepo(db)
    before = await totals(db)
    trade = await trades.open(a, b)
    assert await trades.open_of(b) == trade
    await trades.offer(trade.trade_id, a, mine, 30)
    seen = await trades.offer(trade.trade_id, b, his, 0)
    assert seen.version == 2
    half = await trades.accept(trade.trade_id, a, 2)
    assert (half.state, half.a.accepted, half.b.accepted) == (TradeState.OPEN, True, False)
    done = await trades.accept(trade.trade_id, b, 2)
    assert done.state is TradeState.COMMITTED
    assert await owners(db, mine + his) == {
        mine[0]: (b, None),
        mine[1]: (b, None),
        his[0]: (a, None),
    }
    mail = MailRepo(db)
    assert (await mail.money(a), await mail.money(b)) == (20, 35)
    assert await totals(db) == before
    assert await trades.open_of(a) is None
    with pytest.raises(TradeClosed):
        await trades.offer(trade.trade_id, a, [], 0)


async def test_a_change_of_offer_resets_both_accepts(db: Database) -> None:
    """After Aria accepted, Bran changes his offer: both accepts are cleared in the
    store, and Aria's accept of the old version is refused."""
    a, b = await _two_traders(db)
    mine = await give(db, a, 1)
    his = await give(db, b, 2)
    trades = TradeRepo(db)
    trade = await trades.open(a, b)
    await trades.offer(trade.trade_id, a, mine, 0)
    await trades.offer(trade.trade_id, b, his[:1], 0)
    await trades.accept(trade.trade_id, a, 2)
    changed = await trades.offer(trade.trade_id, b, his, 0)
    assert (changed.version, changed.a.accepted, changed.b.accepted) == (3, False, False)
    assert (await trades.get(trade.trade_id)).a.accepted is False
    with pytest.raises(StaleOffer):
        await trades.accept(trade.trade_id, a, 2)
    await trades.accept(trade.trade_id, b, 3)
    done = await trades.accept(trade.trade_id, a, 3)
    assert done.state is TradeState.COMMITTED
    assert await owners(db, his) == {his[0]: (a, None), his[1]: (a, None)}


async def test_only_characters_in_the_world_trade_once_at_a_time(db: Database) -> None:
    """Opening refuses a character not in the world and one already trading (either
    side); the schema refuses a second open offer raw."""
    pool_id, players = await _players(db, 4)
    a, b, c, d = (p.character_id for p in players)
    await in_world(db, pool_id, a, b, c)
    trades = TradeRepo(db)
    with pytest.raises(NotInWorld):
        await trades.open(a, d)
    trade = await trades.open(a, b)
    with pytest.raises(AlreadyTrading):
        await trades.open(c, b)
    with pytest.raises(AlreadyTrading):
        await trades.open(a, c)
    async with db.connection() as conn:
        other = await conn.fetchval(
            "INSERT INTO social.trades (a_id, b_id, a_epoch, b_epoch) VALUES ($1, $2, 1, 1) "
            "RETURNING trade_id",
            c,
            a,
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO social.trade_offers (trade_id, character_id, open) "
                "VALUES ($1, $2, true)",
                other,
                a,
            )
    cancelled = await trades.cancel_for(b, "left the game")
    assert cancelled is not None
    assert (cancelled.trade_id, cancelled.state, cancelled.reason) == (
        trade.trade_id,
        TradeState.CANCELLED,
        "left the game",
    )
    assert await trades.cancel_for(b, "again") is None
    assert (await trades.open(a, c)).state is TradeState.OPEN


@pytest.mark.parametrize("move", ["transfer", "logout"])
async def test_a_side_that_moved_since_the_open_cancels_the_commit(db: Database, move: str) -> None:
    """Bran transfers (his epoch grows) or logs out between the open and the last
    accept: the trade is cancelled with the reason and nothing moves."""
    a, b = await _two_traders(db)
    mine = await give(db, a, 1, 10)
    trades = TradeRepo(db)
    before = await totals(db)
    trade = await trades.open(a, b)
    await trades.offer(trade.trade_id, a, mine, 10)
    await trades.accept(trade.trade_id, b, 1)
    async with db.connection() as conn:
        if move == "transfer":
            await conn.execute(
                "UPDATE characters.player_assignments SET epoch = epoch + 1 "
                "WHERE character_id = $1",
                b,
            )
        else:
            await conn.execute(
                "UPDATE characters.player_assignments SET state = 'offline', instance_id = NULL, "
                "epoch = epoch + 1 WHERE character_id = $1",
                b,
            )
    result = await trades.accept(trade.trade_id, a, 1)
    assert result.state is TradeState.CANCELLED
    assert result.reason.startswith("STALE_EPOCH" if move == "transfer" else "NOT_IN_WORLD")
    assert await owners(db, mine) == {mine[0]: (a, None)}
    assert await MailRepo(db).money(a) == 10
    assert await totals(db) == before
    assert await trades.open_of(a) is None


async def test_an_item_gone_before_the_commit_cancels_it(db: Database) -> None:
    """Aria mails away the item she offered; the last accept cancels the trade
    (OWNERSHIP_CHANGED) and Bran's money stays his."""
    a, b = await _two_traders(db)
    mine = await give(db, a, 1)
    await give(db, b, 0, 40)
    trades = TradeRepo(db)
    trade = await trades.open(a, b)
    await trades.offer(trade.trade_id, a, mine, 0)
    await trades.offer(trade.trade_id, b, [], 40)
    await trades.accept(trade.trade_id, a, 2)
    with pytest.raises(OwnershipChanged):
        await trades.offer(trade.trade_id, b, mine, 0)  # not his to offer
    sent = await MailRepo(db).send(a, b, "elsewhere", "", mine)
    result = await trades.accept(trade.trade_id, b, 2)
    assert result.state is TradeState.CANCELLED
    assert result.reason.startswith("OWNERSHIP_CHANGED")
    assert await MailRepo(db).money(b) == 40
    assert await owners(db, mine) == {mine[0]: (None, sent.mail_id)}


async def test_a_mail_and_a_trade_racing_for_one_item_one_wins(db: Database) -> None:
    """Aria mails to Cato the item she offered Bran while Bran's accept commits the
    trade: exactly one of the two gets the item, the other moves nothing."""
    a, b, c = await _two_traders(db, 3)
    mine = await give(db, a, 1)
    await give(db, b, 0, 25)
    trades, mail = TradeRepo(db), MailRepo(db)
    before = await totals(db)
    trade = await trades.open(a, b)
    await trades.offer(trade.trade_id, a, mine, 0)
    await trades.offer(trade.trade_id, b, [], 25)
    await trades.accept(trade.trade_id, a, 2)
    accepted, mailed = await asyncio.gather(
        trades.accept(trade.trade_id, b, 2),
        mail.send(a, c, "race", "", mine),
        return_exceptions=True,
    )
    [(owner, holder)] = (await owners(db, mine)).values()
    if isinstance(mailed, BaseException):
        assert isinstance(mailed, OwnershipChanged)
        assert not isinstance(accepted, BaseException)
        assert accepted.state is TradeState.COMMITTED
        assert (owner, holder) == (b, None)
        assert await mail.money(a) == 25
    else:
        assert not isinstance(accepted, BaseException)
        assert accepted.state is TradeState.CANCELLED
        assert (owner, holder) == (None, mailed.mail_id)
        assert await mail.money(b) == 25
    assert await totals(db) == before


async def test_both_final_accepts_at_once_commit_once(db: Database) -> None:
    """Aria and Bran accept at the same moment: the trade commits exactly once and
    every item changes hands once."""
    a, b = await _two_traders(db)
    mine = await give(db, a, 3, 9)
    his = await give(db, b, 2)
    trades = TradeRepo(db)
    before = await totals(db)
    trade = await trades.open(a, b)
    await trades.offer(trade.trade_id, a, mine, 9)
    await trades.offer(trade.trade_id, b, his, 0)
    results = await asyncio.gather(
        trades.accept(trade.trade_id, a, 2), trades.accept(trade.trade_id, b, 2)
    )
    assert sorted(r.state for r in results) == [TradeState.COMMITTED, TradeState.OPEN]
    assert await owners(db, mine + his) == {
        **{i: (b, None) for i in mine},
        **{i: (a, None) for i in his},
    }
    assert await MailRepo(db).money(b) == 9
    assert await totals(db) == before
