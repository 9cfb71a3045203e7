"""Mail keeps every item and coin: attached items are owned by the mail, taking and
returning move them by compare-and-set, and a mail holding something is never deleted."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest
from test_matchmaking_store import _players

from realmkit.errors import (
    Conflict,
    InvalidInput,
    MailboxFull,
    MailNotEmpty,
    MoneyCapReached,
    NotEnoughMoney,
    NotFound,
    OwnershipChanged,
)
from realmkit.social.trade import MONEY_CAP
from realmkit.store.characters import CharacterRepo, ItemRepo
from realmkit.store.mail import FROM_ONE_SENDER, MAILBOX_SIZE, MailRepo, Returned
from realmkit.store.postgres import Database


async def totals(db: Database) -> tuple[int, int]:
    """(items, money): every item, and the money in purses and in mails."""
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM characters.items) AS items, "
            "(SELECT coalesce(sum(money), 0) FROM characters.characters) "
            "+ (SELECT coalesce(sum(money), 0) FROM social.mail) AS money"
        )
    return int(row["items"]), int(row["money"])


async def owners(db: Database, item_ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    """item -> (owner character, owning mail)."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT item_id, owner_character_id, mail_id FROM characters.items "
            "WHERE item_id = ANY($1::bigint[])",
            item_ids,
        )
    return {r["item_id"]: (r["owner_character_id"], r["mail_id"]) for r in rows}


async def give(db: Database, character_id: int, count: int, money: int = 0) -> list[int]:
    """``count`` new items and ``money`` for ``character_id``; the item ids."""
    items = ItemRepo(db)
    block = await items.reserve_ids()
    ids = list(block[:count])
    for item_id in ids:
        await items.grant(item_id, 100 + item_id % 7, character_id)
    if money:
        await MailRepo(db).grant_money(character_id, money)
    return ids


async def test_send_and_take_keep_every_item_and_coin(db: Database) -> None:
    """Aria mails two items and 40 money to Bran: they belong to the mail, then to Bran
    when he takes them; the totals never change, and a second take moves nothing."""
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    ids = await give(db, a, 3, 100)
    mail = MailRepo(db)
    before = await totals(db)

    sent = await mail.send(a, b, "loot", "for you", ids[:2], 40)
    assert [i.item_id for i in sent.items] == ids[:2]
    assert await mail.money(a) == 60
    assert await owners(db, ids) == {
        ids[0]: (None, sent.mail_id),
        ids[1]: (None, sent.mail_id),
        ids[2]: (a, None),
    }
    assert await totals(db) == before
    [listed] = await mail.mailbox(b)
    assert (listed.mail_id, listed.items, listed.money, listed.read_at) == (
        sent.mail_id,
        2,
        40,
        None,
    )
    assert await mail.mailbox(a) == []

    with pytest.raises(NotFound):
        await mail.take(a, sent.mail_id)  # not Aria's mail
    taken = await mail.take(b, sent.mail_id)
    assert (taken.item_ids, taken.money) == (ids[:2], 40)
    assert await owners(db, ids[:2]) == {ids[0]: (b, None), ids[1]: (b, None)}
    assert await mail.money(b) == 40
    assert await totals(db) == before
    again = await mail.take(b, sent.mail_id)
    assert (again.item_ids, again.money) == ([], 0)
    assert await totals(db) == before
    assert (await mail.read(b, sent.mail_id)).read_at is not None


async def test_a_send_that_fails_changes_nothing(db: Database) -> None:
    """An item Aria does not own, or more money than she has: the send is refused
    (OwnershipChanged, NotEnoughMoney), her items and purse are as before, no mail."""
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    mine = await give(db, a, 2, 50)
    his = await give(db, b, 1)
    mail = MailRepo(db)
    before = await totals(db)

    with pytest.raises(OwnershipChanged) as lost:
        await mail.send(a, b, "both", "", [mine[0], his[0]], 10)
    assert (lost.value.item_id, lost.value.expected_owner) == (his[0], a)
    with pytest.raises(NotEnoughMoney):
        await mail.send(a, b, "rich", "", [mine[1]], 51)
    with pytest.raises(InvalidInput):
        await mail.send(a, b, "x" * 65)
    with pytest.raises(InvalidInput):
        await mail.send(a, a, "me")
    assert await mail.money(a) == 50
    assert await owners(db, mine + his) == {
        mine[0]: (a, None),
        mine[1]: (a, None),
        his[0]: (b, None),
    }
    assert await mail.mailbox(b) == []
    assert await totals(db) == before


async def test_two_sends_of_one_item_at_once_one_wins(db: Database) -> None:
    """Aria mails the same item to Bran and to Cato at the same moment: exactly one mail
    holds it, the other send is refused with nothing changed."""
    _, (aria, bran, cato) = await _players(db, 3)
    a = aria.character_id
    [item] = await give(db, a, 1, 10)
    mail = MailRepo(db)
    before = await totals(db)
    results = await asyncio.gather(
        mail.send(a, bran.character_id, "one", "", [item], 5),
        mail.send(a, cato.character_id, "two", "", [item], 5),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert [type(e) for e in lost] == [OwnershipChanged]
    assert await owners(db, [item]) == {item: (None, won[0].mail_id)}
    assert await mail.money(a) == 5
    assert await totals(db) == before


async def test_a_mail_holding_something_is_not_deleted(db: Database) -> None:
    """Deleting is refused while items or money remain (by the repository, and raw by the
    schema: the items' RESTRICT, the money trigger), as is deleting the character they
    wait for; once taken, the mails are deleted."""
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    ids = await give(db, a, 1, 5)
    mail = MailRepo(db)
    goods = await mail.send(a, b, "gift", "", ids)
    coins = await mail.send(a, b, "coins", "", [], 5)
    for sent in (goods, coins):
        with pytest.raises(MailNotEmpty):
            await mail.delete(b, sent.mail_id)
    async with db.connection() as conn:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("DELETE FROM social.mail WHERE mail_id = $1", goods.mail_id)
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("DELETE FROM social.mail WHERE mail_id = $1", coins.mail_id)
    with pytest.raises(Conflict):  # Bran cannot be deleted while they wait for him
        await CharacterRepo(db).delete(b, bran.account_id)
    for sent in (goods, coins):
        await mail.take(b, sent.mail_id)
        await mail.delete(b, sent.mail_id)
    assert await mail.mailbox(b) == []
    assert await owners(db, ids) == {ids[0]: (b, None)}


async def test_an_item_has_exactly_one_owner_in_the_schema(db: Database) -> None:
    """Raw SQL cannot give an item both a character and a mail, nor neither."""
    _, (aria, bran) = await _players(db, 2)
    ids = await give(db, aria.character_id, 2)
    sent = await MailRepo(db).send(aria.character_id, bran.character_id, "one", "", ids[:1])
    async with db.connection() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE characters.items SET mail_id = $2 WHERE item_id = $1", ids[1], sent.mail_id
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE characters.items SET owner_character_id = NULL WHERE item_id = $1", ids[1]
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE characters.characters SET money = -1 WHERE character_id = $1",
                aria.character_id,
            )


async def test_unread_expired_mail_goes_back_and_is_then_kept(db: Database) -> None:
    """An unread mail past its expiry goes back to its sender (returned, who to tell);
    expiring again it stays with the sender, items and money whole. An expired empty
    mail that was read is deleted."""
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    ids = await give(db, a, 2, 30)
    mail = MailRepo(db, lifetime_s=-1, return_lifetime_s=-1)
    before = await totals(db)
    sent = await mail.send(a, b, "late", "", ids, 30)
    note = await mail.send(b, a, "hello", "no attachments")
    await mail.read(a, note.mail_id)

    assert await mail.return_expired() == [Returned(sent.mail_id, a, b)]
    [back] = await mail.mailbox(a)
    assert (back.mail_id, back.returned, back.sender_id, back.items, back.money) == (
        sent.mail_id,
        True,
        b,
        2,
        30,
    )
    assert await mail.mailbox(b) == []
    assert await totals(db) == before

    assert await mail.return_expired() == []  # returned once: kept, not sent back again
    [kept] = await mail.mailbox(a)
    assert (kept.mail_id, kept.expires_at, kept.items, kept.money) == (sent.mail_id, None, 2, 30)
    assert await mail.return_expired() == []
    assert await owners(db, ids) == {i: (None, sent.mail_id) for i in ids}
    assert await totals(db) == before
    taken = await mail.take(a, sent.mail_id)
    assert (taken.item_ids, taken.money) == (ids, 30)
    assert await mail.money(a) == 30


async def test_a_full_mailbox_refuses_more(db: Database) -> None:
    """With MAILBOX_SIZE mails waiting, a send is refused and the money stays home."""
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    await give(db, a, 0, 9)
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO social.mail (sender_id, recipient_id, subject) "
            "SELECT $1, $2, 'spam ' || g FROM generate_series(1, $3) g",
            a,
            b,
            MAILBOX_SIZE,
        )
    mail = MailRepo(db)
    with pytest.raises(MailboxFull):
        await mail.send(a, b, "one more", "", [], 9)
    assert await mail.money(a) == 9
    assert len(await mail.mailbox(b)) == MAILBOX_SIZE


def _cluster_invariants() -> ModuleType:
    """tests/cluster/invariants.py, which the cluster tests end with."""
    path = Path(__file__).parents[1] / "cluster" / "invariants.py"
    spec = importlib.util.spec_from_file_location("cluster_invariants", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_cluster_invariants_see_mail_as_an_owner(database_url: str, db: Database) -> None:
    """The cluster tests' SQL: an item in a mail has one owner, its money counts until
    taken, and an item with no owner is caught."""
    invariants = _cluster_invariants()
    _, (aria, bran) = await _players(db, 2)
    ids = await give(db, aria.character_id, 2, 20)
    before = await invariants.conservation(database_url)
    assert before == (await totals(db))
    await MailRepo(db).send(aria.character_id, bran.character_id, "gift", "", ids[:1], 20)
    assert await invariants.conservation(database_url) == before
    assert await invariants.fetch(database_url, invariants.ITEMS_WITHOUT_ONE_OWNER) == []
    async with db.connection() as conn:
        await conn.execute("ALTER TABLE characters.items DROP CONSTRAINT items_one_owner")
        await conn.execute(
            "UPDATE characters.items SET owner_character_id = NULL WHERE item_id = $1", ids[1]
        )
    [orphan] = await invariants.fetch(database_url, invariants.ITEMS_WITHOUT_ONE_OWNER)
    assert orphan["item_id"] == ids[1]


async def test_a_purse_stays_within_its_bounds(db: Database) -> None:
    """Taking more than a purse holds, or lifting it above the cap, is refused; a take
    that would overflow the recipient's purse moves none of the mail's items either."""
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    mail = MailRepo(db)
    ids = await give(db, a, 1, 10)
    with pytest.raises(NotEnoughMoney):
        await mail.grant_money(a, -11)
    sent = await mail.send(a, b, "coins", "", ids, 10)
    await mail.grant_money(b, MONEY_CAP - 5)
    with pytest.raises(MoneyCapReached):
        await mail.grant_money(b, 6)
    with pytest.raises(MoneyCapReached):
        await mail.take(b, sent.mail_id)
    assert await owners(db, ids) == {ids[0]: (None, sent.mail_id)}
    assert (await mail.read(b, sent.mail_id)).money == 10
    assert await mail.money(b) == MONEY_CAP - 5


async def test_a_mail_waits_to_go_back_to_a_full_mailbox(db: Database) -> None:
    """An expired unread mail whose sender's mailbox is full stays where it is, and goes
    back on a later pass once there is room."""
    _, (aria, bran, cato) = await _players(db, 3)
    a, b = aria.character_id, bran.character_id
    ids = await give(db, a, 1)
    mail = MailRepo(db, lifetime_s=-1)
    sent = await mail.send(a, b, "late", "", ids)
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO social.mail (sender_id, recipient_id, subject) "
            "SELECT $1, $2, 'fan mail' FROM generate_series(1, $3)",
            cato.character_id,
            a,
            MAILBOX_SIZE,
        )
    assert await mail.return_expired() == []
    assert [m.mail_id for m in await mail.mailbox(b)] == [sent.mail_id]
    async with db.connection() as conn:
        await conn.execute(
            "DELETE FROM social.mail WHERE recipient_id = $1 AND subject = 'fan mail' "
            "AND mail_id = (SELECT min(mail_id) FROM social.mail WHERE recipient_id = $1)",
            a,
        )
    assert await mail.return_expired() == [Returned(sent.mail_id, a, b)]
    assert await owners(db, ids) == {ids[0]: (None, sent.mail_id)}


async def test_one_sender_cannot_fill_a_mailbox_alone(db: Database) -> None:
    """Past ``FROM_ONE_SENDER`` unread letters from one sender the next is refused;
    another sender still gets through, and reading one lets the first write again."""
    _, (aria, bran, cato) = await _players(db, 3)
    a, b, c = aria.character_id, bran.character_id, cato.character_id
    mail = MailRepo(db)
    sent = [await mail.send(a, b, f"note {i}") for i in range(FROM_ONE_SENDER)]
    with pytest.raises(MailboxFull, match="unread letters from you"):
        await mail.send(a, b, "one more")
    await mail.send(c, b, "from someone else")
    await mail.read(b, sent[0].mail_id)
    await mail.send(a, b, "now there is room")
