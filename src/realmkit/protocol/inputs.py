"""Client inputs as the gateway forwards them to a space.

Everything here arrives from a game client and is untrusted: the types only
say what shape a message has. The space (and the gateway's pre-check) decide
whether the values are acceptable; positions are never believed as given.
"""

from __future__ import annotations

import msgspec


class _Input(msgspec.Struct, frozen=True, tag_field="t"):
    """Base of client inputs; ``t`` names the input on the wire."""


class Move(_Input, frozen=True, tag="move"):
    """Where the client says it is. ``seq`` is echoed back as the prediction ack."""

    x: float
    y: float
    z: float
    o: float
    client_time_ms: int
    seq: int


class Attack(_Input, frozen=True, tag="attack"):
    """Start auto-attacking ``target`` (an entity id); 0 stops attacking."""

    target: int


class Cast(_Input, frozen=True, tag="cast"):
    """Cast ``spell`` on ``target`` (0 means yourself)."""

    spell: int
    target: int = 0


class Release(_Input, frozen=True, tag="release"):
    """A dead player releases to the nearest graveyard."""


class Say(_Input, frozen=True, tag="say"):
    """Speak to players in range; ``yell`` carries further."""

    text: str
    yell: bool = False


ClientInput = Move | Attack | Cast | Release | Say
