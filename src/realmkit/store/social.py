"""What a gateway reads of a player to carry its chat and presence: its realm,
party, guild (and guild mates), realm channels, friends, ignore list and mute,
in one round trip when the player is seated; and whom a whisper reaches."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from realmkit.errors import Ignored, NotFound, NotOnline
from realmkit.social.names import NameCard, split_name
from realmkit.store.postgres import Database


class SocialContext(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    realm_id: int
    realm: str
    pool_id: int
    party_id: int = 0
    guild_id: int = 0
    guild_mates: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()
    friends: frozenset[int] = frozenset()
    ignored: frozenset[int] = frozenset()
    muted_until: float | None = None  # seconds since 1970


class WhisperTarget(msgspec.Struct, frozen=True):
    character_id: int
    # As the whisperer names it: Name, or Name-Realm on another realm.
    display: str


_CONTEXT = """
SELECT c.character_id, c.name, c.realm_id, r.name AS realm, r.pool_id,
  coalesce((SELECT party_id FROM matchmaking.party_members
            WHERE character_id = c.character_id), 0) AS party_id,
  coalesce(g.guild_id, 0) AS guild_id,
  coalesce((SELECT array_agg(m.character_id) FROM social.guild_members m
            WHERE m.guild_id = g.guild_id), '{}') AS guild_mates,
  coalesce((SELECT array_agg(channel) FROM social.channel_members
            WHERE character_id = c.character_id), '{}') AS channels,
  coalesce((SELECT array_agg(CASE WHEN f.low_id = c.character_id THEN f.high_id
                                  ELSE f.low_id END)
            FROM social.friendships f
            WHERE f.low_id = c.character_id OR f.high_id = c.character_id), '{}') AS friends,
  coalesce((SELECT array_agg(ignored_id) FROM social.ignores
            WHERE character_id = c.character_id), '{}') AS ignored,
  (SELECT extract(epoch FROM until) FROM social.mutes
   WHERE character_id = c.character_id AND until > now()) AS muted_until
FROM characters.characters c
JOIN auth.realmlist r USING (realm_id)
LEFT JOIN social.guild_members g ON g.character_id = c.character_id
WHERE c.character_id = $1
"""

# A target by name on a realm of the whisperer's pool, whether it is online, and
# whether it ignores the whisperer.
_TARGET = """
SELECT c.character_id, c.name, r.realm_id, r.name AS realm,
  coalesce(a.state <> 'offline', false) AS online,
  EXISTS (SELECT 1 FROM social.ignores i
          WHERE i.character_id = c.character_id AND i.ignored_id = $4) AS ignores
FROM characters.characters c
JOIN auth.realmlist r USING (realm_id)
LEFT JOIN characters.player_assignments a USING (character_id)
WHERE lower(c.name) = lower($1) AND r.pool_id = $2
  AND CASE WHEN $3::text IS NULL THEN r.realm_id = $5 ELSE lower(r.name) = lower($3) END
"""


class SocialRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def context(self, character_id: int) -> SocialContext:
        async with self.db.connection() as conn:
            r = await conn.fetchrow(_CONTEXT, character_id)
        if r is None:
            raise NotFound("character", character_id)
        muted = r["muted_until"]
        return SocialContext(
            character_id=r["character_id"],
            name=r["name"],
            realm_id=r["realm_id"],
            realm=r["realm"],
            pool_id=r["pool_id"],
            party_id=r["party_id"],
            guild_id=r["guild_id"],
            guild_mates=frozenset(r["guild_mates"]),
            channels=frozenset(r["channels"]),
            friends=frozenset(r["friends"]),
            ignored=frozenset(r["ignored"]),
            muted_until=None if muted is None else float(muted),
        )

    async def names(self, ids: Sequence[int | None], seen_from: int) -> dict[int, str]:
        """The names of these characters as a player of realm ``seen_from`` says them:
        ``Name``, or ``Name-Realm`` on another realm (unknown ids left out)."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT c.character_id, CASE WHEN c.realm_id = $2 THEN c.name "
                "ELSE c.name || '-' || r.name END AS name "
                "FROM characters.characters c JOIN auth.realmlist r USING (realm_id) "
                "WHERE c.character_id = ANY($1::bigint[])",
                wanted,
                seen_from,
            )
        return {r["character_id"]: r["name"] for r in rows}

    async def cards(self, ids: Sequence[int]) -> dict[int, NameCard]:
        """The name, realm and level of these characters, of any realm (ids that are
        no character left out)."""
        if not ids:
            return {}
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT c.character_id, c.name, c.realm_id, r.name AS realm, c.level "
                "FROM characters.characters c JOIN auth.realmlist r USING (realm_id) "
                "WHERE c.character_id = ANY($1::bigint[])",
                list(ids),
            )
        return {
            r["character_id"]: NameCard(
                r["character_id"], r["name"], r["realm_id"], r["realm"], r["level"]
            )
            for r in rows
        }

    async def realm_names(self) -> dict[int, str]:
        async with self.db.connection() as conn:
            rows = await conn.fetch("SELECT realm_id, name FROM auth.realmlist")
        return {r["realm_id"]: r["name"] for r in rows}

    async def items(self, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(template, stack count) of these items."""
        if not ids:
            return {}
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT item_id, template_id, stack_count FROM characters.items "
                "WHERE item_id = ANY($1::bigint[])",
                list(ids),
            )
        return {r["item_id"]: (r["template_id"], r["stack_count"]) for r in rows}

    async def heading(self, mail_id: int) -> tuple[str, str]:
        """(the name of its sender, its subject) of a letter."""
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT coalesce(c.name, '') AS sender, m.subject FROM social.mail m "
                "LEFT JOIN characters.characters c ON c.character_id = m.sender_id "
                "WHERE m.mail_id = $1",
                mail_id,
            )
        if row is None:
            raise NotFound("mail", mail_id)
        return row["sender"], row["subject"]

    async def whisper_target(self, whisperer: SocialContext, target: str) -> WhisperTarget:
        """Whom ``target`` names for ``whisperer``; ``NotFound``, ``NotOnline`` or
        ``Ignored`` when it cannot be whispered to."""
        name, realm = split_name(target)
        async with self.db.connection() as conn:
            r = await conn.fetchrow(
                _TARGET, name, whisperer.pool_id, realm, whisperer.character_id, whisperer.realm_id
            )
        if r is None:
            raise NotFound("character", target, f"no character {target} in your realms")
        display = r["name"] if r["realm_id"] == whisperer.realm_id else f"{r['name']}-{r['realm']}"
        if not r["online"]:
            raise NotOnline(display)
        if r["ignores"]:
            raise Ignored(whisperer.character_id, r["character_id"], display)
        return WhisperTarget(r["character_id"], display)
