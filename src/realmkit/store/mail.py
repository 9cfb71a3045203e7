"""Mail between characters, with items and money attached, and the purse.

An attached item is owned by its mail (``characters.items.mail_id``): sending
moves it from the sender to the mail and taking moves it from the mail to the
recipient, each one compare-and-set update, so an item is never copied and
never lost. Money leaves the sender's purse in the transaction that sends it
(the schema's CHECK refuses an overdraft) and reaches the recipient's when
taken. A mail that still holds something cannot be deleted (here, and by the
schema): unread mails past their expiry go back to their sender, and a mail
that cannot go back is kept until taken.

Every writer locks in one order (the characters' rows by id, then the mail,
then its items), so two changes touching the same purse or item wait for
each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

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
from realmkit.social.trade import MAX_ITEMS, MONEY_CAP
from realmkit.store.postgres import ConnectionLike, Database, ErrorFactory, translated

MAX_ATTACHMENTS = MAX_ITEMS
MAILBOX_SIZE = 100
# Unread letters one sender may have in another's mailbox: nobody fills it alone.
FROM_ONE_SENDER = 20
SUBJECT_LENGTH = 64  # the schema's CHECKs
BODY_LENGTH = 1000
DAY_S = 86_400.0


class MailItem(msgspec.Struct, frozen=True):
    item_id: int
    template_id: int
    stack_count: int


class MailSummary(msgspec.Struct, frozen=True):
    """A mail as a mailbox lists it."""

    mail_id: int
    sender_id: int | None
    subject: str
    money: int
    items: int
    sent_at: datetime
    read_at: datetime | None
    returned: bool
    expires_at: datetime | None


class Mail(msgspec.Struct, frozen=True):
    """A mail as its recipient reads it."""

    mail_id: int
    sender_id: int | None
    recipient_id: int
    subject: str
    body: str
    money: int
    items: list[MailItem]
    sent_at: datetime
    read_at: datetime | None
    returned: bool
    expires_at: datetime | None


class Taken(msgspec.Struct, frozen=True):
    """What a recipient took out of a mail."""

    mail_id: int
    item_ids: list[int]
    money: int


class Returned(msgspec.Struct, frozen=True):
    """A mail sent back: ``sender_id`` has it again (tell them), ``recipient_id`` no more."""

    mail_id: int
    sender_id: int
    recipient_id: int


def _money_errors(character_id: int, amount: int) -> dict[str, ErrorFactory]:
    return {
        "characters_money_not_negative": lambda: NotEnoughMoney(character_id, amount),
        "characters_money_cap": lambda: MoneyCapReached(character_id, MONEY_CAP),
    }


async def lock_characters(conn: ConnectionLike, character_ids: Sequence[int]) -> set[int]:
    """Lock the characters' rows in id order (every writer of a purse or of items
    does so first); the ids that exist."""
    rows = await conn.fetch(
        "SELECT character_id FROM characters.characters WHERE character_id = ANY($1::bigint[]) "
        "ORDER BY character_id FOR UPDATE",
        sorted(set(character_ids)),
    )
    return {r["character_id"] for r in rows}


async def add_money(conn: ConnectionLike, character_id: int, amount: int) -> int:
    """Add ``amount`` (negative: take it) to a purse; the balance after.

    The schema's CHECKs refuse an overdraft (``NotEnoughMoney``) and a purse above
    the cap (``MoneyCapReached``)."""
    with translated(_money_errors(character_id, -amount)):
        balance = await conn.fetchval(
            "UPDATE characters.characters SET money = money + $2 WHERE character_id = $1 "
            "RETURNING money",
            character_id,
            amount,
        )
    if balance is None:
        raise NotFound("character", character_id)
    return int(balance)


class MailRepo:
    def __init__(
        self, db: Database, *, lifetime_s: float = 30 * DAY_S, return_lifetime_s: float = 30 * DAY_S
    ) -> None:
        self.db = db
        self.lifetime_s = lifetime_s
        self.return_lifetime_s = return_lifetime_s

    async def send(
        self,
        sender_id: int,
        recipient_id: int,
        subject: str,
        body: str = "",
        item_ids: Sequence[int] = (),
        money: int = 0,
    ) -> Mail:
        """Send a mail, its items and money leaving the sender in the same transaction.

        ``OwnershipChanged`` if the sender does not own one of the items,
        ``NotEnoughMoney`` for an overdraft, ``MailboxFull`` (also when the sender
        has ``FROM_ONE_SENDER`` unread letters there already): nothing changes.
        """
        items = list(item_ids)
        if sender_id == recipient_id:
            raise InvalidInput("recipient_id", "a character does not mail itself")
        if len(subject) > SUBJECT_LENGTH:
            raise InvalidInput("subject", f"at most {SUBJECT_LENGTH} characters")
        if len(body) > BODY_LENGTH:
            raise InvalidInput("body", f"at most {BODY_LENGTH} characters")
        if len(items) > MAX_ATTACHMENTS or len(set(items)) != len(items):
            raise InvalidInput("item_ids", f"at most {MAX_ATTACHMENTS} distinct items")
        if not 0 <= money <= MONEY_CAP:
            raise InvalidInput("money", f"between 0 and {MONEY_CAP}")
        async with self.db.transaction() as conn:
            found = await lock_characters(conn, [sender_id, recipient_id])
            for who in (sender_id, recipient_id):
                if who not in found:
                    raise NotFound("character", who)
            counted = await conn.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE sender_id = $2 AND read_at IS NULL "
                "AND NOT returned) FROM social.mail WHERE recipient_id = $1",
                recipient_id,
                sender_id,
            )
            assert counted is not None  # an aggregate has a row
            held, unread_from_sender = counted
            if held >= MAILBOX_SIZE:
                raise MailboxFull(recipient_id, MAILBOX_SIZE)
            if unread_from_sender >= FROM_ONE_SENDER:
                raise MailboxFull(recipient_id, FROM_ONE_SENDER, from_one_sender=True)
            if money:
                await add_money(conn, sender_id, -money)
            mail_id = await conn.fetchval(
                "INSERT INTO social.mail (sender_id, recipient_id, subject, body, money, "
                "expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) "
                "RETURNING mail_id",
                sender_id,
                recipient_id,
                subject,
                body,
                money,
                self.lifetime_s,
            )
            if items:
                # One compare-and-set per item: owned by the sender, it becomes the mail's.
                moved = await conn.fetch(
                    "UPDATE characters.items SET owner_character_id = NULL, mail_id = $1, "
                    "slot = NULL WHERE item_id = ANY($2::bigint[]) AND owner_character_id = $3 "
                    "RETURNING item_id",
                    mail_id,
                    items,
                    sender_id,
                )
                missing = set(items) - {r["item_id"] for r in moved}
                if missing:
                    raise OwnershipChanged(min(missing), sender_id)
            return await _mail(conn, mail_id)

    async def mailbox(self, character_id: int) -> list[MailSummary]:
        """The mails ``character_id`` holds, newest first."""
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT m.mail_id, m.sender_id, m.subject, m.money, m.sent_at, m.read_at, "
                "m.returned, m.expires_at, (SELECT count(*) FROM characters.items i "
                "WHERE i.mail_id = m.mail_id) AS items FROM social.mail m "
                "WHERE m.recipient_id = $1 ORDER BY m.sent_at DESC, m.mail_id DESC",
                character_id,
            )
        return [msgspec.convert(dict(r), MailSummary) for r in rows]

    async def read(self, character_id: int, mail_id: int) -> Mail:
        """The mail, marked read (once: ``read_at`` keeps the first reading)."""
        async with self.db.transaction() as conn:
            marked = await conn.fetchval(
                "UPDATE social.mail SET read_at = coalesce(read_at, now()) "
                "WHERE mail_id = $1 AND recipient_id = $2 RETURNING mail_id",
                mail_id,
                character_id,
            )
            if marked is None:
                raise NotFound("mail", mail_id)
            return await _mail(conn, mail_id)

    async def take(self, character_id: int, mail_id: int) -> Taken:
        """Move every item and the money of the mail to its recipient, in one transaction.

        ``MoneyCapReached`` if the purse cannot hold the money: nothing moves.
        """
        async with self.db.transaction() as conn:
            if character_id not in await lock_characters(conn, [character_id]):
                raise NotFound("character", character_id)
            money = await conn.fetchval(
                "SELECT money FROM social.mail WHERE mail_id = $1 AND recipient_id = $2 FOR UPDATE",
                mail_id,
                character_id,
            )
            if money is None:
                raise NotFound("mail", mail_id)
            # Compare-and-set on the mail: only items it still owns move.
            moved = await conn.fetch(
                "UPDATE characters.items SET mail_id = NULL, owner_character_id = $2 "
                "WHERE mail_id = $1 RETURNING item_id",
                mail_id,
                character_id,
            )
            if money:
                await add_money(conn, character_id, money)
            await conn.execute(
                "UPDATE social.mail SET money = 0, read_at = coalesce(read_at, now()) "
                "WHERE mail_id = $1",
                mail_id,
            )
        return Taken(mail_id, sorted(r["item_id"] for r in moved), int(money))

    async def delete(self, character_id: int, mail_id: int) -> None:
        """Delete a mail; ``MailNotEmpty`` while it holds items or money."""
        conflicts = {
            "items_mail_id_fkey": lambda: Conflict("the mail holds items", mail_id=mail_id),
            "mail_money_kept": lambda: Conflict("the mail holds money", mail_id=mail_id),
        }
        async with self.db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT m.money, (SELECT count(*) FROM characters.items i "
                "WHERE i.mail_id = m.mail_id) AS items FROM social.mail m "
                "WHERE m.mail_id = $1 AND m.recipient_id = $2 FOR UPDATE",
                mail_id,
                character_id,
            )
            if row is None:
                raise NotFound("mail", mail_id)
            if row["items"] or row["money"]:
                raise MailNotEmpty(mail_id, row["items"], row["money"])
            with translated(conflicts):
                await conn.execute("DELETE FROM social.mail WHERE mail_id = $1", mail_id)

    async def return_expired(self, limit: int = 100) -> list[Returned]:
        """Handle up to ``limit`` mails past their expiry; the ones sent back.

        An unread mail goes back to its sender (``returned``, a new expiry) unless
        the sender's mailbox is full (it waits for the next pass). A mail that
        cannot go back (read, already returned, sender deleted) is deleted when
        empty and otherwise kept until taken (no expiry): nothing in it is lost.
        """
        async with self.db.connection() as conn:
            candidates: list[int] = [
                r["mail_id"]
                for r in await conn.fetch(
                    "SELECT mail_id FROM social.mail WHERE expires_at <= now() "
                    "ORDER BY expires_at, mail_id LIMIT $1",
                    limit,
                )
            ]
        returned = []
        for mail_id in candidates:
            done = await self._expire(mail_id)
            if done is not None:
                returned.append(done)
        return returned

    async def _expire(self, mail_id: int) -> Returned | None:
        async with self.db.transaction() as conn:
            seen = await conn.fetchrow(
                "SELECT sender_id, recipient_id FROM social.mail WHERE mail_id = $1", mail_id
            )
            if seen is None:
                return None
            await lock_characters(conn, [c for c in seen.values() if c is not None])
            mail = await conn.fetchrow(
                "SELECT m.*, (SELECT count(*) FROM characters.items i "
                "WHERE i.mail_id = m.mail_id) AS items FROM social.mail m "
                "WHERE m.mail_id = $1 AND m.expires_at <= now() FOR UPDATE",
                mail_id,
            )
            if mail is None or (mail["sender_id"], mail["recipient_id"]) != tuple(seen.values()):
                return None  # taken, deleted or moved meanwhile: the next pass sees it anew
            sender = mail["sender_id"]
            if not mail["returned"] and mail["read_at"] is None and sender is not None:
                held = await conn.fetchval(
                    "SELECT count(*) FROM social.mail WHERE recipient_id = $1", sender
                )
                if held >= MAILBOX_SIZE:
                    return None
                await conn.execute(
                    "UPDATE social.mail SET sender_id = recipient_id, recipient_id = sender_id, "
                    "returned = true, expires_at = now() + make_interval(secs => $2) "
                    "WHERE mail_id = $1",
                    mail_id,
                    self.return_lifetime_s,
                )
                return Returned(mail_id, sender, mail["recipient_id"])
            if mail["items"] or mail["money"]:
                await conn.execute(
                    "UPDATE social.mail SET expires_at = NULL WHERE mail_id = $1", mail_id
                )
            else:
                await conn.execute("DELETE FROM social.mail WHERE mail_id = $1", mail_id)
            return None

    async def money(self, character_id: int) -> int:
        """The money in ``character_id``'s purse."""
        balance = await self.db.fetchval(
            "SELECT money FROM characters.characters WHERE character_id = $1", character_id
        )
        if balance is None:
            raise NotFound("character", character_id)
        return int(balance)

    async def grant_money(self, character_id: int, amount: int) -> int:
        """Add ``amount`` (negative: take it) to a purse, for tests and operators;
        the balance after."""
        async with self.db.transaction() as conn:
            return await add_money(conn, character_id, amount)


async def _mail(conn: ConnectionLike, mail_id: int) -> Mail:
    row = await conn.fetchrow("SELECT * FROM social.mail WHERE mail_id = $1", mail_id)
    if row is None:
        raise NotFound("mail", mail_id)
    items = await conn.fetch(
        "SELECT item_id, template_id, stack_count FROM characters.items WHERE mail_id = $1 "
        "ORDER BY item_id",
        mail_id,
    )
    return msgspec.convert(
        {**dict(row), "items": [dict(i) for i in items]}, Mail, from_attributes=False
    )
