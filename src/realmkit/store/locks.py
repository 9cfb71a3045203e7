"""PostgreSQL advisory lock keys: every cluster-wide mutual exclusion in one place.

Keys are 64-bit; the high 32 bits spell "rlmk" so they cannot collide with
locks other software takes in a shared database.
"""

from __future__ import annotations

from enum import IntEnum

_PREFIX = 0x726C6D6B << 32


class Lock(IntEnum):
    MIGRATIONS = _PREFIX | 1
