"""Friends, ignores, who, chat channels, mutes and guilds keep their rules in PostgreSQL:
caps, pools, passwords, ranks, one leader, hand-over, and refusals by the schema."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import asyncpg
import pytest

from realmkit.errors import (
    AlreadyExists,
    AlreadyInGuild,
    DifferentPool,
    FriendRequestsFull,
    FriendsFull,
    GuildFull,
    GuildRankTooLow,
    Ignored,
    IgnoreListFull,
    InvalidInput,
    Muted,
    NotFound,
    NotInGuild,
    TooManyChannels,
    TooManyGuildInvites,
    WrongChannelPassword,
)
from realmkit.seed import seed_if_empty
from realmkit.social.guild import Member, Rank, successor
from realmkit.store import guilds as guild_store
from realmkit.store.chat import MAX_CHANNELS, ChannelRepo, MuteRepo
from realmkit.store.friends import MAX_FRIENDS, MAX_IGNORES, MAX_REQUESTS, FriendRepo
from realmkit.store.guilds import MAX_INVITES, GuildRepo
from realmkit.store.postgres import Database


@dataclass
class World:
    db: Database
    account_id: int
    realms: dict[str, int]  # Azure and Crimson share a pool; Dustfall has its own

    async def character(self, realm: str, name: str, level: int = 1) -> int:
        async with self.db.connection() as conn:
            character_id: int = await conn.fetchval(
                "INSERT INTO characters.characters (account_id, realm_id, name, level, hp, "
                "map_id, pos_x, pos_y, pos_z) VALUES ($1, $2, $3, $4, 10, 0, 0, 0, 0) "
                "RETURNING character_id",
                self.account_id,
                self.realms[realm],
                name,
                level,
            )
        return character_id

    async def crowd(self, realm: str, count: int, prefix: str = "Zz") -> list[int]:
        """``count`` characters at once (names from digits spelled as letters)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "INSERT INTO characters.characters (account_id, realm_id, name, hp, map_id, "
                "pos_x, pos_y, pos_z) SELECT $1, $2, $3 || translate(i::text, '0123456789', "
                "'abcdefghij'), 10, 0, 0, 0, 0 FROM generate_series(1, $4) i "
                "RETURNING character_id",
                self.account_id,
                self.realms[realm],
                prefix,
                count,
            )
        return [r["character_id"] for r in records]

    async def online(self, character_id: int, map_id: int, gateway: str = "gw-1") -> None:
        """Seat the character in a (dungeon) instance of ``map_id`` held by ``gateway``."""
        async with self.db.connection() as conn:
            instance_id = await conn.fetchval(
                "INSERT INTO characters.instances (game_id, map_id, kind, pool_id, realm_id, "
                "capacity) SELECT r.game_id, $2, 'dungeon', r.pool_id, r.realm_id, 5 "
                "FROM characters.characters c JOIN auth.realmlist r USING (realm_id) "
                "WHERE c.character_id = $1 RETURNING instance_id",
                character_id,
                map_id,
            )
            await conn.execute(
                "INSERT INTO characters.player_assignments (character_id, instance_id, "
                "gateway_id, epoch, state) VALUES ($1, $2, $3, 1, 'in_world')",
                character_id,
                instance_id,
                gateway,
            )

    async def offline(self, character_id: int) -> None:
        """Log the character out as the placement does (the row stays, state offline)."""
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE characters.player_assignments SET state = 'offline', instance_id = NULL, "
                "gateway_id = NULL, epoch = epoch + 1 WHERE character_id = $1",
                character_id,
            )


@pytest.fixture
async def world(db: Database) -> World:
    await seed_if_empty(db)
    async with db.connection() as conn:
        account_id = await conn.fetchval(
            "INSERT INTO auth.accounts (username, password_hash) VALUES ('social', 'x') "
            "RETURNING account_id"
        )
        records = await conn.fetch("SELECT name, realm_id FROM auth.realmlist")
    realms = {r["name"]: r["realm_id"] for r in records}
    return World(db, account_id, realms)


# ---------------------------------------------------------------- friends --


async def test_a_request_answered_makes_friends_on_both_lists(world: World) -> None:
    """Aria asks Bran; Bran sees the request, accepts; each lists the other, with
    where the friend plays while online; removing ends it for both."""
    aria, bran = await world.character("Azure", "Aria"), await world.character("Azure", "Bran", 7)
    friends = FriendRepo(world.db)
    sent = await friends.request(aria, bran)
    assert not sent.friends
    with pytest.raises(AlreadyExists):
        await friends.request(aria, bran)
    [waiting] = await friends.requests_to(bran)
    assert (waiting.character_id, waiting.name, waiting.realm) == (aria, "Aria", "Azure")
    assert await friends.requests_to(aria) == []
    assert await friends.answer(bran, aria, accept=True)
    assert await friends.requests_to(bran) == []
    await world.online(bran, map_id=33)
    [seen] = await friends.friends_of(aria)
    assert (seen.character_id, seen.name, seen.level, seen.online, seen.map_id) == (
        bran,
        "Bran",
        7,
        True,
        33,
    )
    [back] = await friends.friends_of(bran)
    assert (back.character_id, back.online, back.map_id) == (aria, False, None)
    with pytest.raises(AlreadyExists):
        await friends.request(bran, aria)
    await friends.remove(bran, aria)
    assert await friends.friends_of(aria) == []
    with pytest.raises(NotFound):
        await friends.remove(aria, bran)
    assert await world.db.fetchval("SELECT count(*) FROM social.friendships") == 0


async def test_asking_each_other_makes_friends_and_declining_does_not(world: World) -> None:
    """A request to someone who asked first makes them friends (one row); a declined
    request is gone and leaves no friendship; answering nothing is NotFound."""
    aria, bran, cato = [await world.character("Azure", n) for n in ("Aria", "Bran", "Cato")]
    friends = FriendRepo(world.db)
    await friends.request(bran, aria)
    assert (await friends.request(aria, bran)).friends
    assert await world.db.fetchval("SELECT count(*) FROM social.friend_requests") == 0
    assert await world.db.fetchval("SELECT count(*) FROM social.friendships") == 1
    await friends.request(cato, aria)
    assert not await friends.answer(aria, cato, accept=False)
    assert [f.character_id for f in await friends.friends_of(aria)] == [bran]
    with pytest.raises(NotFound):
        await friends.answer(aria, cato, accept=True)
    with pytest.raises(InvalidInput):
        await friends.request(aria, aria)
    with pytest.raises(NotFound):
        await friends.request(aria, 999_999)


async def test_friends_span_the_realms_of_a_pool_and_no_further(world: World) -> None:
    """Azure and Crimson share a pool: friends; Dustfall is in another: refused by the
    repository and, written raw, by the schema."""
    aria = await world.character("Azure", "Aria")
    cora = await world.character("Crimson", "Cora")
    dune = await world.character("Dustfall", "Dune")
    friends = FriendRepo(world.db)
    await friends.request(aria, cora)
    assert await friends.answer(cora, aria, accept=True)
    [cross] = await friends.friends_of(aria)
    assert (cross.name, cross.realm) == ("Cora", "Crimson")
    with pytest.raises(DifferentPool):
        await friends.request(aria, dune)
    async with world.db.connection() as conn:
        for sql in (
            "INSERT INTO social.friend_requests (from_id, to_id) VALUES ($1, $2)",
            "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)",
        ):
            with pytest.raises(asyncpg.CheckViolationError) as refused:
                await conn.execute(sql, *sorted((aria, dune)))
            assert refused.value.constraint_name.endswith("_same_pool")


async def test_the_schema_stores_a_friendship_once_and_never_with_oneself(world: World) -> None:
    """A pair is one row, smaller id first: the reverse row and oneself are refused."""
    aria, bran = await world.character("Azure", "Aria"), await world.character("Azure", "Bran")
    low, high = sorted((aria, bran))
    async with world.db.connection() as conn:
        await conn.execute(
            "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)", low, high
        )
        for pair in ((high, low), (low, low)):
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)", *pair
                )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)", low, high
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO social.friend_requests (from_id, to_id) VALUES ($1, $1)", aria
            )


async def test_friends_and_waiting_requests_are_capped(world: World) -> None:
    """A character with MAX_FRIENDS friends can neither ask nor be befriended; one
    with MAX_REQUESTS requests waiting takes no more."""
    full, other, asker = [await world.character("Azure", n) for n in ("Full", "Other", "Asker")]
    crowd = await world.crowd("Azure", MAX_FRIENDS + MAX_REQUESTS)
    async with world.db.connection() as conn:
        await conn.executemany(
            "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)",
            [tuple(sorted((full, c))) for c in crowd[:MAX_FRIENDS]],
        )
        await conn.executemany(
            "INSERT INTO social.friend_requests (from_id, to_id) VALUES ($1, $2)",
            [(c, other) for c in crowd[MAX_FRIENDS:]],
        )
    friends = FriendRepo(world.db)
    with pytest.raises(FriendsFull) as caught:
        await friends.request(full, other)
    assert caught.value.to_dict()["cap"] == MAX_FRIENDS
    await friends.request(asker, full)
    with pytest.raises(FriendsFull):
        await friends.answer(full, asker, accept=True)
    with pytest.raises(FriendRequestsFull) as waiting:
        await friends.request(asker, other)
    assert waiting.value.character_id == other


async def test_the_last_friend_places_raced_go_to_as_many(world: World) -> None:
    """A character three friends short of the cap accepts eight requests at once:
    three become friends, five are told the list is full."""
    host = await world.character("Azure", "Host")
    crowd = await world.crowd("Azure", MAX_FRIENDS - 3)
    askers = await world.crowd("Azure", 8, prefix="Ask")
    async with world.db.connection() as conn:
        await conn.executemany(
            "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)",
            [tuple(sorted((host, c))) for c in crowd],
        )
    friends = FriendRepo(world.db)
    for asker in askers:
        await friends.request(asker, host)
    outcomes = await asyncio.gather(
        *(friends.answer(host, asker, accept=True) for asker in askers),
        return_exceptions=True,
    )
    assert sum(o is True for o in outcomes) == 3
    assert sum(isinstance(o, FriendsFull) for o in outcomes) == 5
    assert len(await friends.friends_of(host)) == MAX_FRIENDS


# ---------------------------------------------------------------- ignores --


async def test_ignoring_refuses_requests_and_drops_a_waiting_one(world: World) -> None:
    """Bran ignores Aria: her waiting request is gone and a new one is refused;
    unignored, she may ask again. Ignoring oneself is refused."""
    aria, bran = await world.character("Azure", "Aria"), await world.character("Azure", "Bran")
    friends = FriendRepo(world.db)
    await friends.request(aria, bran)
    await friends.ignore(bran, aria)
    await friends.ignore(bran, aria)  # again: no change
    assert await friends.requests_to(bran) == []
    assert await friends.ignores(bran, aria)
    assert not await friends.ignores(aria, bran)
    assert [(i.character_id, i.name) for i in await friends.ignores_of(bran)] == [(aria, "Aria")]
    with pytest.raises(Ignored) as refused:
        await friends.request(aria, bran)
    assert refused.value.code == "IGNORED"
    await friends.request(bran, aria)  # the ignorer may still ask
    await friends.unignore(bran, aria)
    with pytest.raises(NotFound):
        await friends.unignore(bran, aria)
    with pytest.raises(InvalidInput):
        await friends.ignore(bran, bran)
    with pytest.raises(NotFound):
        await friends.ignore(bran, 999_999)


async def test_an_ignore_list_is_capped(world: World) -> None:
    """MAX_IGNORES ignored, one more is refused."""
    me = await world.character("Azure", "Grump")
    crowd = await world.crowd("Azure", MAX_IGNORES + 1)
    friends = FriendRepo(world.db)
    async with world.db.connection() as conn:
        await conn.executemany(
            "INSERT INTO social.ignores (character_id, ignored_id) VALUES ($1, $2)",
            [(me, c) for c in crowd[:MAX_IGNORES]],
        )
    with pytest.raises(IgnoreListFull):
        await friends.ignore(me, crowd[-1])


# ----------------------------------------------------------- who, presence --


async def test_who_lists_online_characters_by_the_filters(world: World) -> None:
    """`who` finds online characters of the given realms by name prefix (any case),
    level range and map, by name, at most ``limit``; offline ones never."""
    ids = {}
    for realm, name, level, map_id in [
        ("Azure", "Alda", 10, 1),
        ("Azure", "Alric", 20, 2),
        ("Azure", "Bors", 15, 1),
        ("Crimson", "Alvar", 12, 1),
        ("Dustfall", "Alys", 12, 1),
    ]:
        ids[name] = await world.character(realm, name, level)
        await world.online(ids[name], map_id)
    ids["Alone"] = await world.character("Azure", "Alone", 10)  # never online
    friends = FriendRepo(world.db)
    azure, crimson = world.realms["Azure"], world.realms["Crimson"]

    async def names(**filters: object) -> list[str]:
        return [r.name for r in await friends.who(**filters)]  # type: ignore[arg-type]

    assert await names(realm_ids=[azure]) == ["Alda", "Alric", "Bors"]
    assert await names(realm_ids=[azure, crimson], name_prefix="AL") == ["Alda", "Alric", "Alvar"]
    assert await names(realm_ids=[azure, crimson], level_min=11, level_max=15) == [
        "Alvar",
        "Bors",
    ]
    assert await names(realm_ids=[azure, crimson], map_id=2) == ["Alric"]
    assert await names(realm_ids=[azure, crimson], limit=2) == ["Alda", "Alric"]
    assert await names(realm_ids=[azure], name_prefix="%") == []
    await world.offline(ids["Alda"])
    assert await names(realm_ids=[azure]) == ["Alric", "Bors"]
    [row] = await friends.who([crimson])
    assert (row.realm, row.level, row.map_id, row.guild) == ("Crimson", 12, 1, None)


async def test_watchers_are_the_online_friends_and_guild_mates(world: World) -> None:
    """Presence goes to friends and guild mates that are online, once each, with the
    gateway holding them; never to oneself nor to offline ones."""
    me, pal, mate, both, away = [
        await world.character("Azure", n) for n in ("Mee", "Pal", "Mate", "Both", "Away")
    ]
    friends, guilds = FriendRepo(world.db), GuildRepo(world.db)
    for other in (pal, both, away):
        await friends.request(me, other)
        await friends.answer(other, me, accept=True)
    guild = await guilds.create(me, "Watchers")
    for other in (mate, both):
        await guilds.invite(me, other)
        await guilds.answer(other, guild.guild_id, accept=True)
    await world.online(me, 1, "gw-0")
    await world.online(pal, 1, "gw-1")
    await world.online(mate, 1, "gw-2")
    await world.online(both, 1, "gw-1")
    assert await friends.watchers(me) == sorted([(pal, "gw-1"), (mate, "gw-2"), (both, "gw-1")])
    await world.offline(pal)
    assert await friends.watchers(me) == sorted([(mate, "gw-2"), (both, "gw-1")])
    assert await friends.watchers(pal) == [(me, "gw-0")]


async def test_resolve_finds_names_on_the_realm_and_across_the_pool(world: World) -> None:
    """`Name` is on one's realm, `Name-Realm` on a realm of the same pool (any case);
    other pools, unknown realms and unknown names are NotFound."""
    aria = await world.character("Azure", "Aria")
    cora = await world.character("Crimson", "Cora")
    await world.character("Dustfall", "Dune")
    friends = FriendRepo(world.db)
    azure = world.realms["Azure"]
    found = await friends.resolve(azure, "aria")
    assert (found.character_id, found.realm_id, found.name) == (aria, azure, "Aria")
    crossed = await friends.resolve(azure, "CORA-crimson")
    assert (crossed.character_id, crossed.realm_id) == (cora, world.realms["Crimson"])
    for name in ("Cora", "Dune-Dustfall", "Aria-Nowhere", "Nobody", ""):
        with pytest.raises(NotFound):
            await friends.resolve(azure, name)


# --------------------------------------------------------------- channels --


async def test_channels_built_in_and_custom_with_a_hashed_password(world: World) -> None:
    """Built-ins are open; a custom channel made with a password keeps only its hash;
    a wrong or missing password is refused, the right one joins; channels persist."""
    aria, bran = await world.character("Azure", "Aria"), await world.character("Azure", "Bran")
    channels = ChannelRepo(world.db)
    azure = world.realms["Azure"]
    trade = await channels.join(aria, azure, "Trade", "ignored")
    assert (trade.channel.channel, trade.channel.builtin, trade.channel.private) == (
        "trade",
        True,
        False,
    )
    made = await channels.join(aria, azure, "raiders", "hunter2")
    assert made.created
    assert made.channel.private
    stored = await world.db.fetchval(
        "SELECT password_hash FROM social.channels WHERE name = 'raiders'"
    )
    assert "hunter2" not in stored
    assert stored.startswith("$argon2id$")
    for wrong in ("hunter3", None, ""):
        with pytest.raises(WrongChannelPassword) as refused:
            await channels.join(bran, azure, "raiders", wrong)
        assert refused.value.to_dict() == {
            "code": "WRONG_CHANNEL_PASSWORD",
            "message": "wrong password for channel raiders",
            "channel": "raiders",
        }
    joined = await channels.join(bran, azure, "RAIDERS", "hunter2")
    assert not joined.created
    assert not joined.already
    assert (await channels.join(bran, azure, "raiders", "whatever")).already
    assert [c.channel for c in await channels.channels_of(aria)] == ["trade", "raiders"]
    await world.online(bran, 1, "gw-7")
    assert await channels.members_online(azure, "raiders") == [(bran, "gw-7")]
    with pytest.raises(InvalidInput):
        await channels.join(aria, azure, "no spaces")
    with pytest.raises(InvalidInput):
        await channels.join(aria, world.realms["Crimson"], "lonely")
    with pytest.raises(NotFound):
        await channels.join(999_999, azure, "lonely")
    assert not await world.db.fetchval("SELECT count(*) FROM social.channels WHERE name = 'lonely'")


async def test_an_empty_custom_channel_is_gone_and_a_built_in_stays(world: World) -> None:
    """The last member leaving (or deleted) takes a custom channel with it, so its
    name and password are free again; built-ins stay."""
    aria, bran = await world.character("Azure", "Aria"), await world.character("Azure", "Bran")
    channels = ChannelRepo(world.db)
    azure = world.realms["Azure"]
    await channels.join(aria, azure, "secret", "one")
    await channels.join(bran, azure, "secret", "one")
    await channels.join(aria, azure, "general")
    assert not await channels.leave(aria, azure, "secret")
    with pytest.raises(NotFound):
        await channels.leave(aria, azure, "secret")
    assert not await channels.leave(aria, azure, "general")
    assert await world.db.fetchval("SELECT count(*) FROM social.channels WHERE name = 'general'")
    await world.db.fetchval("DELETE FROM characters.characters WHERE character_id = $1", bran)
    assert not await world.db.fetchval("SELECT count(*) FROM social.channels WHERE name = 'secret'")
    remade = await channels.join(aria, azure, "secret", "two")
    assert remade.created
    assert await channels.leave(aria, azure, "secret")
    async with world.db.connection() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO social.channels (realm_id, name, password_hash) "
                "VALUES ($1, 'lfg', 'x')",
                azure,
            )


async def test_a_character_is_in_at_most_ten_channels(world: World) -> None:
    """The eleventh channel is refused; rejoining one of the ten is not."""
    aria = await world.character("Azure", "Aria")
    channels = ChannelRepo(world.db)
    azure = world.realms["Azure"]
    for i in range(MAX_CHANNELS):
        await channels.join(aria, azure, f"room{i}")
    with pytest.raises(TooManyChannels):
        await channels.join(aria, azure, "roomx")
    assert (await channels.join(aria, azure, "room3")).already
    assert not await world.db.fetchval("SELECT count(*) FROM social.channels WHERE name = 'roomx'")


async def test_mutes_replace_and_end_by_the_database_clock(world: World) -> None:
    """A mute is in force until its end, setting again replaces it (one row), one
    whose end has passed is none, and unmute lifts it."""
    aria = await world.character("Azure", "Aria")
    mutes = MuteRepo(world.db)
    assert await mutes.muted_until(aria) is None
    first = await mutes.mute_for(aria, 600, "spam")
    assert 590 < first.seconds_left <= 600
    assert await mutes.muted_until(aria) == first.until
    with pytest.raises(Muted) as told:
        await mutes.require_unmuted(aria)
    assert told.value.reason == "spam"
    again = await mutes.mute_for(aria, 60, "more spam")
    assert await world.db.fetchval("SELECT count(*) FROM social.mutes") == 1
    assert (await mutes.muted_until(aria), again.reason) == (again.until, "more spam")
    await mutes.mute_for(aria, -1, "over")
    assert await mutes.muted_until(aria) is None
    await mutes.require_unmuted(aria)
    assert not await mutes.unmute(aria)
    await mutes.mute(aria, again.until, "back")
    assert await mutes.unmute(aria)
    assert await mutes.mute_of(aria) is None
    with pytest.raises(NotFound):
        await mutes.mute_for(999_999, 60, "ghost")


# ----------------------------------------------------------------- guilds --


async def _guild_of_four(world: World) -> tuple[GuildRepo, int, list[int]]:
    """Lead, Offi (officer), Memb (member), Init (initiate), joined in that order."""
    lead, offi, memb, init = [
        await world.character("Azure", n) for n in ("Lead", "Offi", "Memb", "Init")
    ]
    guilds = GuildRepo(world.db)
    guild = await guilds.create(lead, "Knights of Ni")
    for who in (offi, memb, init):
        invite = await guilds.invite(lead, who)
        assert (invite.guild, invite.inviter_id) == ("Knights of Ni", lead)
        await guilds.answer(who, guild.guild_id, accept=True)
    await guilds.promote(lead, offi)
    await guilds.promote(lead, offi)
    await guilds.promote(lead, memb)
    return guilds, guild.guild_id, [lead, offi, memb, init]


async def test_a_guild_is_made_joined_and_ranked(world: World) -> None:
    """The founder leads, newcomers are initiates, promotions stop below the promoter,
    the roster lists rank then seniority with who is online."""
    guilds, guild_id, (lead, offi, memb, init) = await _guild_of_four(world)
    await world.online(memb, 1)
    guild = await guilds.guild_of(init)
    assert guild is not None
    assert guild.leader_id == lead
    assert [(m.character_id, m.rank, m.online) for m in guild.members] == [
        (lead, Rank.LEADER, False),
        (offi, Rank.OFFICER, False),
        (memb, Rank.MEMBER, True),
        (init, Rank.INITIATE, False),
    ]
    assert await guilds.member_ids(guild_id) == [lead, offi, memb, init]
    with pytest.raises(GuildRankTooLow):
        await guilds.promote(lead, offi)  # no second leader
    with pytest.raises(GuildRankTooLow):
        await guilds.promote(offi, memb)  # not to the officer's own rank
    change = await guilds.promote(offi, init)
    assert change.affected == init
    assert change.before.rank_of(init) is Rank.INITIATE
    assert change.after is not None
    assert change.after.rank_of(init) is Rank.MEMBER
    demoted = await guilds.demote(offi, init)
    assert demoted.after is not None
    assert demoted.after.rank_of(init) is Rank.INITIATE
    with pytest.raises(GuildRankTooLow):
        await guilds.demote(offi, init)  # below initiate
    with pytest.raises(GuildRankTooLow):
        await guilds.demote(memb, init)
    with pytest.raises(AlreadyExists):
        await guilds.create(await world.character("Azure", "Rival"), "knights OF ni")
    other = await guilds.create(await world.character("Crimson", "Cross"), "Knights of Ni")
    assert other.guild_id != guild_id, "names are unique per realm"
    with pytest.raises(AlreadyInGuild):
        await guilds.create(memb, "Second Home")
    with pytest.raises(InvalidInput):
        await guilds.create(await world.character("Azure", "Bad"), "x!")


async def test_only_officers_invite_kick_and_set_the_motd(world: World) -> None:
    """Members may not invite nor kick; officers kick lower ranks only; the motd is
    officers' and capped; only the leader disbands."""
    guilds, guild_id, (lead, offi, memb, init) = await _guild_of_four(world)
    newcomer = await world.character("Azure", "Newbie")
    with pytest.raises(GuildRankTooLow):
        await guilds.invite(memb, newcomer)
    with pytest.raises(GuildRankTooLow):
        await guilds.kick(memb, init)
    with pytest.raises(GuildRankTooLow):
        await guilds.kick(offi, lead)
    with pytest.raises(GuildRankTooLow):
        await guilds.kick(offi, offi)
    with pytest.raises(NotFound):
        await guilds.kick(offi, newcomer)
    kicked = await guilds.kick(offi, init)
    assert kicked.after is not None
    assert init not in kicked.after.member_ids
    assert await guilds.guild_of(init) is None
    with pytest.raises(NotInGuild):
        await guilds.kick(init, memb)
    with pytest.raises(GuildRankTooLow):
        await guilds.set_motd(memb, "hi")
    assert (await guilds.set_motd(offi, "Raid at eight")).motd == "Raid at eight"
    with pytest.raises(InvalidInput):
        await guilds.set_motd(offi, "x" * 256)
    with pytest.raises(GuildRankTooLow):
        await guilds.disband(offi)
    gone = await guilds.disband(lead)
    assert gone.member_ids == [lead, offi, memb]
    assert await guilds.guild_of(memb) is None
    assert await guilds.member_ids(guild_id) == []


async def test_invitations_expire_are_capped_and_need_the_realm(world: World) -> None:
    """An invitation is needed, live and once; a character of another realm, in a
    guild, or ignoring the inviter is refused; waiting invitations are capped."""
    guilds, guild_id, (lead, offi, memb, _) = await _guild_of_four(world)
    late, far, grump = [
        await world.character(realm, n)
        for realm, n in (("Azure", "Late"), ("Crimson", "Far"), ("Azure", "Grump"))
    ]
    with pytest.raises(NotFound):
        await guilds.answer(late, guild_id, accept=True)
    await guilds.invite(offi, late, seconds=60)
    assert [i.guild_id for i in await guilds.invites_of(late)] == [guild_id]
    await world.db.fetchval(
        "UPDATE social.guild_invites SET expires_at = now() - interval '1 second' RETURNING 1"
    )
    with pytest.raises(NotFound):
        await guilds.answer(late, guild_id, accept=True)
    await guilds.invite(offi, late)
    unchanged = await guilds.answer(late, guild_id, accept=False)
    assert late not in unchanged.member_ids
    with pytest.raises(NotFound):
        await guilds.answer(late, guild_id, accept=True)
    with pytest.raises(InvalidInput):
        await guilds.invite(lead, far)
    with pytest.raises(AlreadyInGuild):
        await guilds.invite(lead, memb)
    await FriendRepo(world.db).ignore(grump, lead)
    with pytest.raises(Ignored):
        await guilds.invite(lead, grump)
    founders = await world.crowd("Azure", MAX_INVITES + 1, prefix="Gm")
    for i, founder in enumerate(founders):
        await guilds.create(founder, "Guild " + "abcdefghijklmnopqrstuvwxyz"[i])
    for founder in founders[:MAX_INVITES]:
        await guilds.invite(founder, late)
    with pytest.raises(TooManyGuildInvites):
        await guilds.invite(founders[-1], late)
    await guilds.invite(founders[0], late)  # renewing one is not another
    joined = await guilds.answer(late, (await guilds.guild_of(founders[0])).guild_id, True)  # type: ignore[union-attr]
    assert late in joined.member_ids
    assert await guilds.invites_of(late) == [], "joining drops the other invitations"


async def test_a_guild_holds_its_cap_when_the_last_places_are_raced(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five invited players accept at once into a guild with room for two more: two
    get in, three are told it is full; a full guild invites nobody."""
    monkeypatch.setattr(guild_store, "MAX_MEMBERS", 3)
    lead = await world.character("Azure", "Lead")
    invited = await world.crowd("Azure", 5, prefix="Inv")
    guilds = GuildRepo(world.db)
    guild = await guilds.create(lead, "Small Band")
    for who in invited:
        await guilds.invite(lead, who)
    outcomes = await asyncio.gather(
        *(guilds.answer(who, guild.guild_id, accept=True) for who in invited),
        return_exceptions=True,
    )
    assert sum(isinstance(o, GuildFull) for o in outcomes) == 3
    assert len(await guilds.member_ids(guild.guild_id)) == 3
    with pytest.raises(GuildFull):
        await guilds.invite(lead, await world.character("Azure", "Carl"))


async def test_two_making_one_channel_at_once_agree_on_its_password(world: World) -> None:
    """Two players make the same channel with different passwords at once: one makes
    it, the other is checked against that password and refused."""
    aria, bran = await world.character("Azure", "Aria"), await world.character("Azure", "Bran")
    channels = ChannelRepo(world.db)
    azure = world.realms["Azure"]
    outcomes = await asyncio.gather(
        channels.join(aria, azure, "duel", "mine"),
        channels.join(bran, azure, "duel", "yours"),
        return_exceptions=True,
    )
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(made) == 1
    assert made[0].created
    assert sum(isinstance(o, WrongChannelPassword) for o in outcomes) == 1
    assert await world.db.fetchval("SELECT count(*) FROM social.channel_members") == 1


async def test_a_leader_leaving_hands_over_as_the_core_says(world: World) -> None:
    """The leader leaves: the highest ranked, longest serving member leads (the
    schema's trigger and ``successor`` agree); the last one out disbands."""
    guilds, guild_id, (lead, offi, memb, init) = await _guild_of_four(world)
    second_officer = await world.character("Azure", "Offb")
    await guilds.invite(lead, second_officer)
    await guilds.answer(second_officer, guild_id, accept=True)
    await guilds.promote(lead, second_officer)
    await guilds.promote(lead, second_officer)
    await guilds.demote(lead, offi)  # the only officer is now the newest member
    before = await guilds.guild_of(lead)
    assert before is not None
    expected = successor([Member(m.character_id, m.rank) for m in _by_joining(before)], lead)
    left = await guilds.leave(lead)
    assert left.after is not None
    assert left.after.leader_id == expected == second_officer
    after_him = await guilds.leave(second_officer)
    assert after_him.after is not None
    assert after_him.after.leader_id == offi, "among members, the longest serving"
    for member in (offi, memb):
        change = await guilds.leave(member)
        assert change.after is not None
    assert (await guilds.guild_of(init)).leader_id == init  # type: ignore[union-attr]
    last = await guilds.leave(init)
    assert last.after is None
    assert await world.db.fetchval("SELECT count(*) FROM social.guilds") == 0
    with pytest.raises(NotInGuild):
        await guilds.leave(init)


@pytest.mark.parametrize("seed", range(4))
async def test_the_schema_hands_over_as_successor_says(world: World, seed: int) -> None:
    """The hand-over trigger and ``successor`` pick the same heir, leader after leader,
    over random ranks and join times (ties included), until the guild is gone."""
    rng = random.Random(seed)
    ids = await world.crowd("Azure", 8, prefix="Heir")
    seats = [(ids[0], Rank.LEADER, 0)] + [
        (i, Rank(rng.randint(1, 3)), rng.randint(0, 3)) for i in ids[1:]
    ]
    async with world.db.connection() as conn:
        guild_id = await conn.fetchval(
            "INSERT INTO social.guilds (realm_id, name) VALUES ($1, 'Heirs') RETURNING guild_id",
            world.realms["Azure"],
        )
        await conn.executemany(
            "INSERT INTO social.guild_members (character_id, guild_id, rank, joined_at) "
            "VALUES ($1, $2, $3, timestamptz '2026-01-01' + make_interval(secs => $4))",
            [(i, guild_id, int(rank), joined) for i, rank, joined in seats],
        )
        leader = ids[0]
        while True:
            records = await conn.fetch(
                "SELECT character_id, rank FROM social.guild_members WHERE guild_id = $1 "
                "ORDER BY joined_at, character_id",
                guild_id,
            )
            expected = successor(
                [Member(r["character_id"], Rank(r["rank"])) for r in records], leader
            )
            await conn.execute("DELETE FROM social.guild_members WHERE character_id = $1", leader)
            heir = await conn.fetchval(
                "SELECT character_id FROM social.guild_members WHERE guild_id = $1 AND rank = 0",
                guild_id,
            )
            assert heir == expected
            if heir is None:
                break
            leader = heir
        assert not await conn.fetchval("SELECT count(*) FROM social.guilds")


def _by_joining(guild: guild_store.GuildRow) -> list[guild_store.GuildMemberRow]:
    return sorted(guild.members, key=lambda m: (m.joined_at, m.character_id))


async def test_a_deleted_leader_is_replaced_by_the_schema(world: World) -> None:
    """Deleting the leader's character hands the guild over (no leaderless guild);
    deleting the last member deletes the guild."""
    guilds, _, (lead, offi, memb, init) = await _guild_of_four(world)
    for gone in (lead, offi, memb):
        await world.db.fetchval("DELETE FROM characters.characters WHERE character_id = $1", gone)
    guild = await guilds.guild_of(init)
    assert guild is not None
    assert [(m.character_id, m.rank) for m in guild.members] == [(init, Rank.LEADER)]
    await world.db.fetchval("DELETE FROM characters.characters WHERE character_id = $1", init)
    assert not await world.db.fetchval("SELECT count(*) FROM social.guilds")


async def test_the_schema_refuses_two_leaders_and_foreign_members(world: World) -> None:
    """Written raw: a second leader, a second guild for a character, a member of
    another realm and a bad name are all refused."""
    _, guild_id, (_, offi, memb, _) = await _guild_of_four(world)
    far = await world.character("Crimson", "Far")
    async with world.db.connection() as conn:
        with pytest.raises(asyncpg.UniqueViolationError) as two:
            await conn.execute(
                "UPDATE social.guild_members SET rank = 0 WHERE character_id = $1", offi
            )
        assert two.value.constraint_name == "guild_members_one_leader"
        other = await conn.fetchval(
            "INSERT INTO social.guilds (realm_id, name) VALUES ($1, 'Other') RETURNING guild_id",
            world.realms["Azure"],
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO social.guild_members (character_id, guild_id, rank) "
                "VALUES ($1, $2, 0)",
                memb,
                other,
            )
        with pytest.raises(asyncpg.CheckViolationError) as foreign:
            await conn.execute(
                "INSERT INTO social.guild_members (character_id, guild_id, rank) "
                "VALUES ($1, $2, 3)",
                far,
                guild_id,
            )
        assert foreign.value.constraint_name == "guild_members_same_realm"
        for name in ("Two  Spaces", "Trailing ", "No"):
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO social.guilds (realm_id, name) VALUES ($1, $2)",
                    world.realms["Azure"],
                    name,
                )
