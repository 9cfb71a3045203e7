"""Enums whose values are the schema's CHECK values (lifecycle states live in
``realmkit.lifecycle``). Kept apart from the records so that the command line
can name them without loading the records' dependencies."""

from __future__ import annotations

from enum import StrEnum


class RealmStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    LOCKED = "locked"
    MAINTENANCE = "maintenance"


class MapKind(StrEnum):
    CONTINENT = "continent"
    DUNGEON = "dungeon"
    BATTLEGROUND = "battleground"
    ARENA = "arena"


class AccountRole(StrEnum):
    """What an account may do beyond playing (``auth.accounts.role``, migration 0021)."""

    PLAYER = "player"
    OPERATOR = "operator"  # the operations page and its API
