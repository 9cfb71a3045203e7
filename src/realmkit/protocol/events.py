"""What a space tells the world around it, besides frames and saves.

Events are drained once (``Space.events_to_emit``) in the order they happened
within a tick. Each is a msgspec Struct tagged ``t`` so a node can forward
it on the bus as is.
"""

from __future__ import annotations

import msgspec


class _Event(msgspec.Struct, frozen=True, tag_field="t"):
    """Base of space events."""


class PortalReached(_Event, frozen=True, tag="portal"):
    """A player entered a portal's area; the node decides on the transfer."""

    character_id: int
    portal_id: int
    to_map: int
    to_spawn: str


class Died(_Event, frozen=True, tag="died"):
    """An entity's hp reached 0; ``killer_id`` is 0 when nobody is to blame."""

    entity_id: int
    killer_id: int
    x: float
    y: float
    z: float


class LootGranted(_Event, frozen=True, tag="loot"):
    """A new item (fresh cluster-unique ``item_id``) now belongs to a character."""

    character_id: int
    item_id: int
    template_id: int
    count: int
    source_id: int


class Chat(_Event, frozen=True, tag="chat"):
    """Say or yell: ``recipients`` are the characters in range (speaker included)."""

    speaker_id: int
    speaker_name: str
    text: str
    yell: bool
    recipients: list[int]


class Corrected(_Event, frozen=True, tag="correct"):
    """The server moved a player (rejected move, release, respawn): snap there."""

    character_id: int
    x: float
    y: float
    z: float
    o: float
    seq: int
    reason: str


class ActionRejected(_Event, frozen=True, tag="rejected"):
    """An input was refused (out of range, on cooldown, unknown target...)."""

    character_id: int
    action: str
    reason: str


class ItemIdsNeeded(_Event, frozen=True, tag="need_ids"):
    """The space runs low on item ids: the node should call ``add_item_ids``."""

    count: int


class MatchWon(_Event, frozen=True, tag="match_won"):
    """The space's win rule is decided: ``winner`` (1-based team) won. Emitted once."""

    winner: int


Event = (
    PortalReached
    | Died
    | LootGranted
    | Chat
    | Corrected
    | ActionRejected
    | ItemIdsNeeded
    | MatchWon
)


def concerned(event: Event) -> set[int]:
    """The characters an event is for: the rule every node applies to deliver it."""
    if isinstance(event, Chat):
        return set(event.recipients)
    if isinstance(event, Died):
        return {event.entity_id, event.killer_id}
    if isinstance(event, Corrected | ActionRejected | LootGranted | PortalReached):
        return {event.character_id}
    return set()
