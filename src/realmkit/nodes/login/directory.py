"""Which gateway a new player should use: the least loaded one that reported lately."""

from __future__ import annotations

from realmkit.protocol.cluster import GatewayLoad

STALE_AFTER = 10.0  # seconds without a report before a gateway is ignored


class GatewayDirectory:
    def __init__(self) -> None:
        self._loads: dict[str, tuple[GatewayLoad, float]] = {}

    def report(self, load: GatewayLoad, now: float) -> None:
        self._loads[load.gateway_id] = (load, now)

    def fresh(self, now: float) -> int:
        """How many gateways reported within ``STALE_AFTER``."""
        return sum(1 for _, seen in self._loads.values() if now - seen <= STALE_AFTER)

    def best(self, now: float) -> GatewayLoad | None:
        """The fresh gateway with the most room (fewest players, then most free capacity)."""
        fresh = [
            load
            for load, seen in self._loads.values()
            if now - seen <= STALE_AFTER and load.players < load.capacity
        ]
        if not fresh:
            return None
        return min(fresh, key=lambda g: (g.players, -(g.capacity - g.players), g.gateway_id))
