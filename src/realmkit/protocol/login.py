"""The login node's JSON API: request and response bodies.

Every error response is ``{"error": {"code": ..., "message": ...}}`` with a
stable code (see ``realmkit.errors``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from realmkit.content.schema import Area, Bounds, ContentPack, Graveyard, SpawnPoint, Zone

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


# --- a realm's content, for clients (GET /api/realms/{realm_id}/content) --------------


class PortalInfo(msgspec.Struct, frozen=True):
    """Walking into ``area`` leads to map ``to_map``."""

    id: int
    name: str
    area: Area
    to_map: int


class MapInfo(msgspec.Struct, frozen=True):
    id: int
    name: str
    kind: str  # continent, dungeon, battleground, arena
    bounds: Bounds
    spawn_points: list[SpawnPoint]
    portals: list[PortalInfo]
    zones: list[Zone]
    graveyards: list[Graveyard]


class CreatureInfo(msgspec.Struct, frozen=True):
    """A creature template: frames name it in each creature row's ``template``."""

    id: int
    name: str
    level: int
    hp: int


class ItemInfo(msgspec.Struct, frozen=True):
    """An item template (``template_id`` of an inventory's items, a loot's)."""

    id: int
    name: str
    quality: str
    slot: str
    stack: int


class SpellInfo(msgspec.Struct, frozen=True):
    """A spell to ``cast``: ``kind`` damage or heal, ``amount`` of it, within ``range``,
    every ``cooldown`` seconds at most."""

    id: int
    name: str
    kind: str
    amount: int
    range: float
    cooldown: float


class PlayerInfo(msgspec.Struct, frozen=True):
    """How every player character moves and fights; ``spells`` it may cast."""

    run_speed: float
    walk_speed: float
    melee_range: float
    spells: list[int]


class RealmContent(msgspec.Struct, frozen=True):
    """What a client needs to draw a realm's game: the content its spaces run (the
    game's pack with the realm's active patch, ``patch_id`` 0: none, at its phase).
    Public game data, the same for every player of the realm."""

    realm_id: int
    pack: str
    version: str
    patch_id: int
    phase: int
    player: PlayerInfo
    maps: list[MapInfo]
    creatures: list[CreatureInfo]
    items: list[ItemInfo]
    spells: list[SpellInfo]


def realm_content(realm_id: int, patch_id: int, phase: int, pack: ContentPack) -> RealmContent:
    """The client's view of a resolved pack (nothing of the rules it does not show:
    no spawns, loot, damage or AI), records by id."""
    return RealmContent(
        realm_id=realm_id,
        pack=pack.info.name,
        version=pack.info.version,
        patch_id=patch_id,
        phase=phase,
        player=PlayerInfo(
            pack.player.run_speed,
            pack.player.walk_speed,
            pack.player.melee_range,
            list(pack.player.spells),
        ),
        maps=[
            MapInfo(
                m.id,
                m.name,
                m.kind,
                m.bounds,
                list(m.spawn_points),
                [PortalInfo(p.id, p.name, p.area, p.to_map) for p in m.portals],
                list(m.zones),
                list(m.graveyards),
            )
            for _, m in sorted(pack.maps.items())
        ],
        creatures=[
            CreatureInfo(c.id, c.name, c.level, c.hp) for _, c in sorted(pack.creatures.items())
        ],
        items=[
            ItemInfo(i.id, i.name, i.quality, i.slot, i.stack)
            for _, i in sorted(pack.items.items())
        ],
        spells=[
            SpellInfo(s.id, s.name, s.kind, s.amount, s.range, s.cooldown)
            for _, s in sorted(pack.spells.items())
        ],
    )
