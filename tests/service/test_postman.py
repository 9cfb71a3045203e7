"""The orchestrators' leader's mail duty: unread letters past their time go back to
their senders, items and money with them, once a round (real PostgreSQL and NATS)."""

from __future__ import annotations

from test_matchmaking_store import _players

from realmkit.bus.nats import NatsBus
from realmkit.nodes.orchestrator.postman import ROUND_SECONDS, Postman
from realmkit.settings import SocialSettings
from realmkit.store.mail import MailRepo
from realmkit.store.postgres import Database


async def test_the_postman_returns_unread_letters_once_a_round(db: Database, bus: NatsBus) -> None:
    _, (aria, bran) = await _players(db, 2)
    a, b = aria.character_id, bran.character_id
    await MailRepo(db).grant_money(a, 40)
    expired = await MailRepo(db, lifetime_s=-1).send(a, b, "too late", "", (), 25)
    fresh = await MailRepo(db).send(a, b, "in time", "", (), 5)
    postman = Postman(db, bus, SocialSettings(mail_days=30))

    await postman.round(now=1000.0)
    assert postman.returned == 1
    back = {m.mail_id: m for m in await MailRepo(db).mailbox(a)}
    assert back[expired.mail_id].returned
    assert back[expired.mail_id].money == 25
    assert [m.mail_id for m in await MailRepo(db).mailbox(b)] == [fresh.mail_id]

    await postman.round(now=1000.0 + ROUND_SECONDS / 2)  # not a round yet
    await postman.round(now=1000.0 + ROUND_SECONDS)
    assert postman.returned == 1, "a returned letter is not sent back again"
