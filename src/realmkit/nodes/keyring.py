"""Ticket verification keys by id, fetched from PostgreSQL once and cached.

A forged ticket can name any key id; unknown ids are remembered for a short
while so that a flood of forgeries costs one query per id per minute, and the
cache is bounded.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from realmkit.auth.tickets import Audience, Claims, load_public_key, unverified_key_id, verify
from realmkit.errors import NotFound, TicketInvalid
from realmkit.store.keys import SigningKeyRepo

KEY_ID = re.compile(r"^[0-9a-f]{16}$")
UNKNOWN_TTL = 60.0
MAX_KEYS = 1024


class Keyring:
    def __init__(self, repo: SigningKeyRepo) -> None:
        self.repo = repo
        self._keys: OrderedDict[str, Ed25519PublicKey | float] = OrderedDict()

    def add(self, key_id: str, key: Ed25519PublicKey) -> None:
        self._remember(key_id, key)

    async def key(self, key_id: str) -> Ed25519PublicKey:
        if not KEY_ID.match(key_id):
            raise TicketInvalid("unknown key")
        known = self._keys.get(key_id)
        if isinstance(known, Ed25519PublicKey):
            return known
        if known is not None and time.monotonic() < known:
            raise TicketInvalid("unknown key")
        try:
            key = load_public_key(await self.repo.get(key_id))
        except NotFound as exc:
            self._remember(key_id, time.monotonic() + UNKNOWN_TTL)
            raise TicketInvalid("unknown key") from exc
        self._remember(key_id, key)
        return key

    async def verify(self, ticket: str, audience: Audience, now: float) -> Claims:
        """The claims of a valid ``audience`` ticket; ``TicketInvalid``/``TicketExpired`` else."""
        return verify(ticket, await self.key(unverified_key_id(ticket)), audience, now)

    def _remember(self, key_id: str, value: Ed25519PublicKey | float) -> None:
        self._keys[key_id] = value
        self._keys.move_to_end(key_id)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)
