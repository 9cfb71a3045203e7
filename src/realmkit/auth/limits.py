"""Rate limits without I/O: lockouts after failures (or any counted event) and
token buckets.

Time is injected (``now``, seconds, monotonic). Memory is bounded: the
lockout table forgets keys whose window has passed and never holds more than
``max_keys`` entries (the oldest are dropped first).
"""

from __future__ import annotations

from collections import OrderedDict, deque


class FailureLimiter:
    """At most ``limit`` failures (or other events: sign-ups) per key within
    ``window`` seconds."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return failures[0] + self.window - now

    def failed(self, key: str, now: float) -> None:
        """Count one failure (one event) of ``key``."""
        failures = self._failures.setdefault(key, deque())
        failures.append(now)
        self._failures.move_to_end(key)
        while len(failures) > self.limit:
            failures.popleft()
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class TokenBucket:
    """``rate`` tokens per second, up to ``burst``; ``take`` says whether one was left."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.stamp = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True
