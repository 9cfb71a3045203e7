"""Telling players: client messages to characters, through whichever gateway holds each."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import RealmkitError
from realmkit.protocol.matchmaking import PlayerNews, ToPlayers
from realmkit.store.placement import AssignmentRepo

log = logging.getLogger("realmkit.matchmaker")


async def deliver(
    bus: NatsBus,
    assignments: AssignmentRepo,
    character_ids: Sequence[int],
    message: PlayerNews,
) -> None:
    """Send ``message`` to the characters in the world (the others miss it)."""
    by_gateway: dict[str, list[int]] = {}
    for character_id, gateway_id in (await assignments.gateways_of(character_ids)).items():
        by_gateway.setdefault(gateway_id, []).append(character_id)
    for gateway_id, ids in by_gateway.items():
        try:
            await bus.publish(subjects.gateway_deliver(gateway_id), ToPlayers(ids, message))
        except RealmkitError as exc:
            log.warning("could not reach gateway %s: %s", gateway_id, exc.message)


async def deliver_to_others(
    bus: NatsBus,
    assignments: AssignmentRepo,
    members: Sequence[int],
    asking: int,
    message: PlayerNews,
) -> None:
    """``deliver`` to the members but the one ``asking`` (its reply tells it)."""
    others = [c for c in members if c != asking]
    if others:
        await deliver(bus, assignments, others, message)
