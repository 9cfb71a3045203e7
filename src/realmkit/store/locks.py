"""PostgreSQL advisory lock keys: every cluster-wide mutual exclusion in one place.

Keys are 64-bit; the high 32 bits spell "rlmk" so they cannot collide with
locks other software takes in a shared database.
"""

from __future__ import annotations

from enum import IntEnum

_PREFIX = 0x726C6D6B << 32


class Lock(IntEnum):
    MIGRATIONS = _PREFIX | 1


# Session advisory locks taken by name (``store.postgres.Leadership``): the replica
# that holds one leads its role. Named here so that who leads can be asked
# (``store.postgres.lock_holder``: ``realmkit status``, the operations page)
# without importing the roles.
ORCHESTRATOR_LEADER = "orchestrator-leader"
MATCHMAKER_LEADER = "matchmaker-leader"
