"""Sockets that have not said hello yet: how many a gateway holds, and from where.

Opening a WebSocket costs a stranger nothing and the gateway a socket, memory
and a timer, so until its hello (or resume) a gateway holds at most
``per_gateway`` such sockets in all and ``per_address`` from one address. One
more is refused: before the handshake when the gateway is full (HTTP 503),
with close code 1013 once open when its address has its share (a socket's
address is known only then). Each is closed ``HELLO_TIMEOUT`` after it opened
anyway (``Connection.timed_out``), so the caps bound a flood, and a client
that waits its turn gets in.

Invariant: a socket is counted from ``admit`` until ``left`` (its hello, or
its end), once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import Final, Generic, TypeVar

PER_GATEWAY: Final = 2000
PER_ADDRESS: Final = 64

K = TypeVar("K", bound=Hashable)


class Lobby(Generic[K]):
    def __init__(self, per_gateway: int = PER_GATEWAY, per_address: int = PER_ADDRESS) -> None:
        self.per_gateway = per_gateway
        self.per_address = per_address
        self._address: dict[K, str] = {}
        self._from: Counter[str] = Counter()
        self.refused = 0

    def __len__(self) -> int:
        return len(self._address)

    def full(self) -> bool:
        """No room for one more socket, from anywhere (counted as refused)."""
        if len(self._address) < self.per_gateway:
            return False
        self.refused += 1
        return True

    def admit(self, key: K, address: str) -> bool:
        """Count ``key`` as waiting for its hello, unless its address (or the gateway)
        has no room: False, and it is not counted."""
        if self._from[address] >= self.per_address or len(self._address) >= self.per_gateway:
            self.refused += 1
            return False
        self._address[key] = address
        self._from[address] += 1
        return True

    def left(self, key: K) -> None:
        """``key`` said hello, or is gone; nothing if it was not counted."""
        address = self._address.pop(key, None)
        if address is None:
            return
        self._from[address] -= 1
        if not self._from[address]:
            del self._from[address]
