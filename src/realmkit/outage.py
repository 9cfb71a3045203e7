"""An engine's outage as one connection sees it: logged once when it begins, once
when it ends.

When NATS or PostgreSQL goes away, every part of a node fails at once: each
space's tick, each heartbeat, each leader round. A line per failure, with a
traceback, buries the one fact an operator needs. So the adapter that
translates an engine's errors (``bus.nats``, ``store.postgres``) keeps one
``Outage`` per connection: the first failure logs one WARNING naming the
engine, the first success after it one INFO saying how long it lasted. The
errors raised meanwhile (``BusUnavailable``, ``StoreUnavailable``) have a
``log_level`` of DEBUG, at which their callers log them, without traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable


class Outage:
    """Whether ``engine`` at ``where`` answers ``owner`` (a node's connection);
    ``clock`` gives seconds (the adapter's ``time.monotonic``)."""

    def __init__(
        self,
        engine: str,
        where: str,
        owner: str,
        log: logging.Logger,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.where = where
        self.owner = owner
        self._log = log
        self._clock = clock
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def began(self, detail: str) -> None:
        """The engine failed us: said once, at the first failure of an outage."""
        if self._since is not None:
            return
        self._since = self._clock()
        self._log.warning(
            "%s: %s at %s unreachable (%s); retrying until it answers",
            self.owner,
            self.engine,
            self.where,
            detail,
        )

    def ended(self) -> None:
        """The engine answered: said once, if it had failed us."""
        if self._since is None:
            return
        lasted = self._clock() - self._since
        self._since = None
        self._log.info(
            "%s: %s at %s answers again (unreachable for %.1fs)",
            self.owner,
            self.engine,
            self.where,
            lasted,
        )
