"""One replica of a role leads at a time: the loop every leader runs.

The replicas of a role (orchestrators, matchmakers) each try, every round, to
hold the role's session advisory lock (``Leadership``); the holder does the
rounds until it dies or loses its connection, and then another takes over on
its next try. A round that fails (PostgreSQL or NATS away) is logged once per
outage, not once per round, and the loop carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from realmkit.errors import RealmkitError
from realmkit.store.postgres import Leadership

log = logging.getLogger("realmkit.leading")

Step = Callable[[], Awaitable[None]]


async def lead(
    leadership: Leadership,
    node_name: str,
    *,
    gained: Step,
    round: Step,
    lost: Step,
    pause: Step,
) -> None:
    """Try to lead and do the rounds while leading; forever (cancel to stop)."""
    what = leadership.name
    failing = ""
    try:
        while True:
            try:
                was = leadership.leading
                if await leadership.hold():
                    if not was:
                        log.info("%s holds %s", node_name, what)
                        await gained()
                    await round()
                elif was:
                    log.warning("%s lost %s", node_name, what)
                    await lost()
                failing = ""
            except RealmkitError as exc:
                if exc.message != failing:  # once per outage, not every round
                    log.log(exc.log_level, "%s round failed: %s", what, exc.message)
                failing = exc.message
            await pause()
    finally:
        await lost()
        await leadership.resign()
