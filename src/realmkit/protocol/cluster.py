"""Messages between nodes (not seen by players)."""

from __future__ import annotations

import msgspec


class GatewayLoad(msgspec.Struct, frozen=True):
    """A gateway's periodic report: where players connect and how many it holds."""

    gateway_id: str
    url: str
    players: int
    capacity: int
