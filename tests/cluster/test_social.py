"""Social across the cluster: whispers, channels, party and guild chat between players
on different gateways, world nodes and realms of a pool; chat history after a gateway
dies; presence; limits. Every test ends with the SQL invariants."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from cluster_procs import node_pid
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at

from realmkit.bus import subjects
from realmkit.client.game import GameClient
from realmkit.errors import RemoteError
from realmkit.protocol.cluster import CellsChanged, SplitCell
from realmkit.protocol.social import (
    ChannelJoin,
    Channels,
    FriendAdd,
    FriendAnswer,
    Friends,
    GuildAnswer,
    GuildCreate,
    GuildInvitation,
    GuildInvite,
    GuildState,
    Ignore,
)

WAIT = 30.0
CONTINENT = 1
BORDER = 280.0


async def _host(cluster, client: GameClient) -> str:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT i.node_id FROM characters.player_assignments a "
        "JOIN characters.instances i USING (instance_id) WHERE a.character_id = $1",
        client.character_id,
    )
    return str(rows[0]["node_id"])


async def _heard(client: GameClient, channel: str, text: str) -> None:
    async with asyncio.timeout(WAIT):
        while not any(m.channel == channel and m.text == text for m in client.chat):
            client.chat_arrived.clear()
            await client.chat_arrived.wait()


async def _split_azure(cluster, bus, client: GameClient) -> None:  # type: ignore[no-untyped-def]
    """Azure's continent split at x=BORDER, the east cell on the other world node."""
    realm = await fetch(
        cluster.database_url,
        "SELECT realm_id FROM characters.characters WHERE character_id = $1",
        client.character_id,
    )
    await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        SplitCell(realm[0]["realm_id"], CONTINENT, 1, "x", BORDER),
        CellsChanged,
        timeout=WAIT,
    )


async def test_whispers_and_channels_reach_players_on_every_gateway_node_and_realm(
    http, cluster, bus, eventually
) -> None:
    """Azure players on two gateways and on two world nodes (the continent split into
    cells) and a Crimson player (another realm of the pool): whispers by Name and
    Name-Realm, a realm channel, party and guild chat; each message has an id that
    grows and the server's time."""
    items = await owned_items(cluster.database_url)
    anna = await enter_at(http, cluster, "Anna", (BORDER - 20, 320.0), gateway=0)
    bert = await enter_at(http, cluster, "Bert", (BORDER + 20, 320.0), gateway=1)
    cora = await enter_at(http, cluster, "Cora", (300.0, 320.0), gateway=1, realm_index=1)
    try:
        await _split_azure(cluster, bus, anna)

        async def apart() -> bool:
            return await _host(cluster, anna) != await _host(cluster, bert)

        await eventually(apart, WAIT, "Anna and Bert on two world nodes")
        sent = await anna.whisper("Bert", "psst, Bert")
        assert (sent.channel, sent.to, sent.sender) == ("whisper", "Bert", "Anna")
        await _heard(bert, "whisper", "psst, Bert")
        got = bert.chat_in("whisper")[-1]
        assert (got.id, got.sender, got.to) == (sent.id, "Anna", "")
        assert got.at > 1_700_000_000_000

        across = await anna.whisper("Cora-Crimson", "hello from Azure")
        assert across.to == "Cora-Crimson"
        await _heard(cora, "whisper", "hello from Azure")
        assert cora.chat_in("whisper")[-1].sender == "Anna-Azure"
        back = await cora.whisper("Anna-Azure", "hello from Crimson")
        await _heard(anna, "whisper", "hello from Crimson")
        assert back.id > across.id > sent.id

        for c in (anna, bert):
            joined = await c.social_ask(ChannelJoin("trade"), Channels)
            assert "trade" in joined.joined
        said = await bert.chat_send("trade", "WTS Copper Ore")
        await _heard(anna, "trade", "WTS Copper Ore")
        assert anna.chat_in("trade")[-1].id == said.id
        assert not cora.chat_in("trade"), "a realm channel stays in its realm"

        with pytest.raises(RemoteError) as unknown:
            await anna.whisper("Nobodyhere", "hello?")
        assert unknown.value.remote_code == "NOT_FOUND"
        with pytest.raises(RemoteError) as not_joined:
            await cora.chat_send("trade", "hi")
        assert not_joined.value.remote_code == "NOT_IN_CHANNEL"

        invited = await anna.party_invite("Bert")
        async with asyncio.timeout(WAIT):
            invitation = await bert.invitations.get()
        await bert.party_accept(invitation.party_id)
        assert invited.party_id == invitation.party_id
        await bert.chat_send("party", "pull in 3")
        await _heard(anna, "party", "pull in 3")

        made = await anna.social_ask(GuildCreate("Dawn Riders"), GuildState)
        assert [(g.name, g.rank) for g in made.members] == [("Anna", 0)]
        await anna.social_ask(GuildInvite("Bert"), GuildState)
        async with asyncio.timeout(WAIT):
            while (asked := bert.social.get("guild_invitation")) is None:
                await bert.social_news.get()
        assert isinstance(asked, GuildInvitation)
        assert (asked.guild, asked.inviter) == ("Dawn Riders", "Anna")
        joined = await bert.social_ask(GuildAnswer(asked.guild_id, True), GuildState)
        assert sorted(g.name for g in joined.members) == ["Anna", "Bert"]
        await bert.chat_send("guild", "for the guild")
        await _heard(anna, "guild", "for the guild")
        assert not cora.chat_in("guild")
    finally:
        for c in (anna, bert, cora):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def test_a_whispered_player_whose_gateway_dies_gets_every_message_once_in_order(
    http, cluster, eventually
) -> None:
    """SIGKILL the gateway of a player while another whispers to it steadily: after it
    resumes through the other gateway it has every message once, in order."""
    items = await owned_items(cluster.database_url)
    heard = await enter_at(http, cluster, "Hearer", (320.0, 320.0), gateway=0)
    teller = await enter_at(http, cluster, "Teller", (322.0, 320.0), gateway=1)
    told: list[str] = []
    refusals: list[str] = []
    try:
        heard.follow([cluster.gateways[1]])

        async def whisper_on(count: int) -> None:
            for _ in range(count):
                text = f"message {len(told) + 1}"
                try:
                    await teller.whisper("Hearer", text)
                except RemoteError as exc:
                    refusals.append(exc.remote_code)
                    await asyncio.sleep(0.5)  # the teller's own pace after a refusal
                    continue
                told.append(text)
                await asyncio.sleep(0.6)  # within the chat rate limit

        first = asyncio.create_task(whisper_on(6))
        await _heard(heard, "whisper", "message 3")
        os.kill(node_pid(cluster.pid, "gateway-1"), signal.SIGKILL)
        await first

        async def resumed() -> bool:
            return heard.resumes == 1

        await eventually(resumed, WAIT, "the player resumed by itself")
        await whisper_on(3)
        await _heard(heard, "whisper", told[-1])
        assert set(refusals) <= {"CHAT_RATE_LIMITED"}, "whispered while its gateway was dead"
        texts = [m.text for m in heard.chat_in("whisper")]
        assert texts == told, "every message once, in order"
        ids = [m.id for m in heard.chat_in("whisper")]
        assert ids == sorted(set(ids))
    finally:
        for c in (heard, teller):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def test_friends_see_each_other_come_and_go_and_the_ignored_are_refused(
    http, cluster, eventually
) -> None:
    """A friend request across gateways; the friend sees the other go online and offline
    (a presence message each time); an ignored player's whispers are refused."""
    items = await owned_items(cluster.database_url)
    fay = await enter_at(http, cluster, "Fay", (340.0, 320.0), gateway=0)
    gil = await enter_at(http, cluster, "Gil", (342.0, 320.0), gateway=1)
    try:
        await fay.social_ask(FriendAdd("Gil"), Friends)
        async with asyncio.timeout(WAIT):
            while gil.social.get("friend_request") is None:
                await gil.social_news.get()
        friends = await gil.social_ask(FriendAnswer("Fay", True), Friends)
        assert [(f.name, f.online) for f in friends.friends] == [("Fay", True)]
        await gil.close()

        async def offline_told() -> bool:
            return any(p.name == "Gil" and not p.online for p in fay.presence)

        await eventually(offline_told, WAIT, "Fay was told Gil went offline")
        gil = await enter_at(http, cluster, "Gil", (342.0, 320.0), gateway=1)

        async def online_told() -> bool:
            return any(p.name == "Gil" and p.online and p.map_id >= 0 for p in fay.presence)

        await eventually(online_told, WAIT, "Fay was told Gil came online")

        await gil.social_ask(Ignore("Fay"), Friends)
        with pytest.raises(RemoteError) as refused:
            await fay.whisper("Gil", "are you there?")
        assert refused.value.remote_code == "IGNORED"
    finally:
        for c in (fay, gil):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def test_mutes_rate_and_text_limits_refuse_clearly_and_spare_the_others(
    http, cluster
) -> None:
    """A flood is refused past its burst, a muted player is told for how long, a long
    text is refused; the other player keeps chatting throughout."""
    items = await owned_items(cluster.database_url)
    loud = await enter_at(http, cluster, "Loud", (360.0, 320.0), gateway=0)
    calm = await enter_at(http, cluster, "Calm", (362.0, 320.0), gateway=1)
    try:
        for c in (loud, calm):
            await c.social_ask(ChannelJoin("general"), Channels)
        codes = []
        for i in range(12):
            try:
                await loud.chat_send("general", f"spam {i}")
            except RemoteError as exc:
                codes.append(exc.remote_code)
        assert len(codes) == 12 - 5, "past a channel's burst of 5"
        assert set(codes) == {"CHAT_RATE_LIMITED"}
        with pytest.raises(RemoteError) as long:
            await calm.whisper("Loud", "x" * 256)
        assert long.value.remote_code in ("BAD_MESSAGE", "TEXT_TOO_LONG")
        await calm.chat_send("general", "still here")
        await _heard(loud, "general", "still here")
        await fetch(
            cluster.database_url,
            "INSERT INTO social.mutes (character_id, until, reason) "
            "VALUES ($1, now() + interval '1 hour', 'spam')",
            loud.character_id,
        )
        # The mute as an operator sets it (realmkit chat mute) reaches the gateway; a
        # player seated after it was set is muted from its seat on.
        await loud.close()
        loud = await enter_at(http, cluster, "Loud", (360.0, 320.0), gateway=0)
        with pytest.raises(RemoteError) as muted:
            await loud.whisper("Calm", "let me talk")
        assert muted.value.remote_code == "MUTED"
        assert "more seconds" in muted.value.remote_message
        await calm.chat_send("general", "quiet now")
    finally:
        for c in (loud, calm):
            await c.close()
    await check_invariants(cluster.database_url, items)
