"""Which world node hosts a new or moved space: drawn by free places."""

from __future__ import annotations

import random

import msgspec

from realmkit.errors import Unavailable

_draws = random.Random()  # noqa: S311 - spreading load, not a secret


class WorldCandidate(msgspec.Struct, frozen=True):
    """A ready world node, as the store reads it: its capacity and who is there."""

    node_id: str
    capacity: int
    players: int
    # Seats the node's instanced maps hold for players not there yet.
    reserved: int = 0


def pick_world_node(
    candidates: list[WorldCandidate], avoid: str | None = None, rng: random.Random | None = None
) -> str:
    """A node with room, drawn with odds in proportion to its free places.

    Free places: capacity less the players placed there and the seats its
    instanced maps hold for the groups they were made for. Drawn rather than
    the freest always: a burst of instances (a matchmaking round's worth) is
    placed by several orchestrators at once, each before it sees the others'
    choices, and would otherwise land on one node. ``avoid`` (the node an
    instance is moved off) only when no other has room.
    """
    room = [c for c in candidates if c.capacity > c.players]
    if not room:
        raise Unavailable("no world node has room for another player")
    others = [c for c in room if c.node_id != avoid] or room
    weights = [max(1, c.capacity - c.players - c.reserved) for c in others]
    return (rng or _draws).choices([c.node_id for c in others], weights)[0]
