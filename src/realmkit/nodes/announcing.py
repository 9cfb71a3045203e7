"""Telling a realm's players something (``announce``), wherever they are: one
``ToPlayers`` per gateway that holds some of them (``gateway.<id>.deliver``).

Used by the orchestrators' leader (a restart's countdown) and by the operator's
commands (a restart called off)."""

from __future__ import annotations

import logging
from collections import defaultdict

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import RealmkitError
from realmkit.protocol.client import Announcement
from realmkit.protocol.matchmaking import ToPlayers
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.announce")


async def tell_realm(db: Database, bus: NatsBus, realm_id: int, message: Announcement) -> int:
    """``message`` to every player of the realm in the world; how many were sent it
    (a gateway NATS could not reach is logged and skipped)."""
    by_gateway: dict[str, list[int]] = defaultdict(list)
    for a in await AssignmentRepo(db).in_world_of_realm(realm_id):
        assert a.gateway_id is not None  # the query's
        by_gateway[a.gateway_id].append(a.character_id)
    told = 0
    for gateway_id, characters in by_gateway.items():
        try:
            await bus.publish(subjects.gateway_deliver(gateway_id), ToPlayers(characters, message))
            told += len(characters)
        except RealmkitError as exc:
            log.warning("realm %d: gateway %s not told: %s", realm_id, gateway_id, exc.message)
    return told
