"""Unread mail goes back to its sender: a duty of the orchestrators' leader.

Every ``ROUND_SECONDS`` the leader returns the letters whose time ran out
(``MailRepo.return_expired``: each moves in one statement, its items and
money with it) and tells each sender in the world that a letter came back.
"""

from __future__ import annotations

import logging

from realmkit.bus.nats import NatsBus
from realmkit.nodes.announcing import tell_characters
from realmkit.protocol.social import MailArrived
from realmkit.settings import SocialSettings
from realmkit.store.mail import MailRepo
from realmkit.store.postgres import Database
from realmkit.store.social import SocialRepo

log = logging.getLogger("realmkit.orchestrator")

ROUND_SECONDS = 60.0
BATCH = 500  # letters returned per round at most


class Postman:
    def __init__(self, db: Database, bus: NatsBus, settings: SocialSettings) -> None:
        self.bus = bus
        self.db = db
        self.mail = MailRepo(db, lifetime_s=settings.mail_seconds)
        self.headings = SocialRepo(db)
        self._last = -ROUND_SECONDS
        self.returned = 0

    async def round(self, now: float) -> None:
        if now - self._last < ROUND_SECONDS:
            return
        self._last = now
        returned = await self.mail.return_expired(BATCH)
        self.returned += len(returned)
        for r in returned:
            # The letter's sender is now the one who did not read it.
            sender, subject = await self.headings.heading(r.mail_id)
            await tell_characters(
                self.db, self.bus, [r.sender_id], MailArrived(r.mail_id, sender, subject)
            )
        if returned:
            log.info("%d unread letters went back to their senders", len(returned))
