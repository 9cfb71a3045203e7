"""Which gateway a new player should use: the least loaded one that reported lately.

Gateways report once a second; within that second many tickets may be handed
out, so the directory also counts the tickets it sent to each gateway since
that gateway's last report, and a burst of logins spreads over the gateways.
"""

from __future__ import annotations

from realmkit.protocol.cluster import GatewayLoad

STALE_AFTER = 10.0  # seconds without a report before a gateway is ignored


class GatewayDirectory:
    def __init__(self) -> None:
        self._loads: dict[str, tuple[GatewayLoad, float]] = {}
        self._sent: dict[str, int] = {}

    def report(self, load: GatewayLoad, now: float) -> None:
        self._loads[load.gateway_id] = (load, now)
        self._sent[load.gateway_id] = 0

    def fresh(self, now: float) -> int:
        """How many gateways reported within ``STALE_AFTER``."""
        return sum(1 for _, seen in self._loads.values() if now - seen <= STALE_AFTER)

    def loads(self, now: float) -> list[GatewayLoad]:
        """The last report of each gateway that reported within ``STALE_AFTER``."""
        return [load for load, seen in self._loads.values() if now - seen <= STALE_AFTER]

    def best(self, now: float) -> GatewayLoad | None:
        """The fresh gateway with the most room, counting tickets sent since its report.

        The choice is counted: call it once per ticket handed out.
        """
        fresh = []
        for load, seen in self._loads.values():
            expected = load.players + self._sent.get(load.gateway_id, 0)
            if now - seen <= STALE_AFTER and expected < load.capacity:
                fresh.append((expected, -(load.capacity - expected), load.gateway_id, load))
        if not fresh:
            return None
        chosen = min(fresh, key=lambda f: f[:3])[3]
        self._sent[chosen.gateway_id] = self._sent.get(chosen.gateway_id, 0) + 1
        return chosen
