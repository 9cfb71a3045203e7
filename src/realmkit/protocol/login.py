"""The login node's JSON API: request and response bodies.

Every error response is ``{"error": {"code": ..., "message": ...}}`` with a
stable code (see ``realmkit.errors``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
CharacterName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2,12}$")]


class Credentials(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    username: Username
    password: Password


class NewCharacter(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: CharacterName


class Session(msgspec.Struct, frozen=True):
    """A session: ``token`` is the bearer for the API (``expires_in`` seconds);
    ``refresh`` logs in once more without the password (``POST /api/refresh``,
    within ``refresh_expires_in`` seconds), and is replaced by the next each time."""

    account_id: int
    token: str
    expires_in: float
    refresh: str = ""
    refresh_expires_in: float = 0.0


RefreshToken = Annotated[str, msgspec.Meta(min_length=16, max_length=128)]


class Refresh(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    refresh: RefreshToken


class RealmInfo(msgspec.Struct, frozen=True):
    """A realm of the realm list: ``population`` players in the world now, ``patch``
    the active patch's name ("" for the game's base content)."""

    realm_id: int
    name: str
    game_id: str
    pool_id: int
    status: str
    population: int
    pool: str = ""
    patch: str = ""


class CharacterInfo(msgspec.Struct, frozen=True):
    character_id: int
    realm_id: int
    name: str
    level: int
    map_id: int


class WorldTicket(msgspec.Struct, frozen=True):
    ticket: str
    gateway_url: str
    expires_in: float


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str


class ErrorResponse(msgspec.Struct, frozen=True):
    error: ErrorBody
