"""Telling players something wherever they are: one ``ToPlayers`` per gateway that
holds some of them (``gateway.<id>.deliver``).

``tell_realm``: every player of a realm (``announce``), used by the orchestrators'
leader (a restart's countdown) and by the operator's commands (a restart called
off). ``tell_characters``: some characters, those in the world (a friend request,
a guild invitation, a letter, a trade partner's offer, a mute)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import RealmkitError
from realmkit.protocol.client import Announcement
from realmkit.protocol.matchmaking import PlayerNews, ToPlayers
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
    return await _deliver(bus, by_gateway, message)


async def tell_characters(
    db: Database, bus: NatsBus, character_ids: Sequence[int], message: PlayerNews
) -> int:
    """``message`` to those of ``character_ids`` in the world; how many were sent it."""
    by_gateway: dict[str, list[int]] = defaultdict(list)
    for character_id, gateway_id in (await AssignmentRepo(db).gateways_of(character_ids)).items():
        by_gateway[gateway_id].append(character_id)
    return await _deliver(bus, by_gateway, message)


async def _deliver(bus: NatsBus, by_gateway: dict[str, list[int]], message: PlayerNews) -> int:
    told = 0
    for gateway_id, characters in by_gateway.items():
        try:
            await bus.publish(subjects.gateway_deliver(gateway_id), ToPlayers(characters, message))
            told += len(characters)
        except RealmkitError as exc:
            log.warning("gateway %s not told: %s", gateway_id, exc.message)
    return told
