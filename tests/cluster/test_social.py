"""Social across the cluster: whispers, channels, party and guild chat between players
on different gateways, world nodes and realms of a pool; chat history after a gateway
dies; presence; limits. Every test ends with the SQL invariants."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable
from typing import TypeVar

import pytest
from cluster_procs import node_pid
from invariants import check_invariants, conservation, fetch, grant, owned_items
from test_instances import GATE, NEAR_GATE, enter_at, walk_through

from realmkit.bus import subjects
from realmkit.client.game import GameClient
from realmkit.client.login import LoginClient
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
    GuildKick,
    GuildMotd,
    GuildPromote,
    GuildState,
    Ignore,
    Letter,
    MailArrived,
    Mailbox,
    MailRead,
    MailSend,
    MailTake,
    TradeAccept,
    TradeOffer,
    TradeOpen,
    TradeWindow,
    Who,
    WhoResult,
)

T = TypeVar("T")
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
    """Wait until ``client`` got ``text`` in ``channel``; else fail saying what it got."""
    try:
        async with asyncio.timeout(WAIT):
            while not any(m.channel == channel and m.text == text for m in client.chat):
                client.chat_arrived.clear()
                await client.chat_arrived.wait()
    except TimeoutError:
        got = [(m.channel, m.text) for m in client.chat]
        raise AssertionError(f"{text!r} never came in {channel}; it got {got[-10:]}") from None


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

        made = await anna.social_ask(
            GuildCreate("Dawn Riders"), GuildState, lambda g: g.guild_id > 0
        )
        assert [(g.name, g.rank) for g in made.members] == [("Anna", 0)]
        await anna.social_ask(GuildInvite("Bert"), GuildState)
        async with asyncio.timeout(WAIT):
            while (asked := bert.social.get("guild_invitation")) is None:
                await bert.social_news.get()
        assert isinstance(asked, GuildInvitation)
        assert (asked.guild, asked.inviter) == ("Dawn Riders", "Anna")
        joined = await bert.social_ask(
            GuildAnswer(asked.guild_id, True), GuildState, lambda g: len(g.members) == 2
        )
        assert sorted(g.name for g in joined.members) == ["Anna", "Bert"]
        await bert.chat_send("guild", "for the guild")
        await _heard(anna, "guild", "for the guild")
        assert not cora.chat_in("guild")
        assert {g.name: g.rank for g in joined.members} == {"Anna": 0, "Bert": 3}, "initiate"
        # News of the guild crosses replies (a member's change is told to every other):
        # each reply is told from them by what it says.
        await anna.social_ask(GuildPromote("Bert"), GuildState, _bert_is(2))
        promoted = await anna.social_ask(GuildPromote("Bert"), GuildState, _bert_is(1))
        assert {g.name: g.rank for g in promoted.members} == {"Anna": 0, "Bert": 1}
        motd = await bert.social_ask(
            GuildMotd("Raid at eight"), GuildState, lambda g: g.motd == "Raid at eight"
        )
        assert motd.motd == "Raid at eight", "an officer sets the message of the day"
        with pytest.raises(RemoteError) as low:
            await bert.social_ask(GuildKick("Anna"), GuildState)
        assert low.value.remote_code == "GUILD_RANK_TOO_LOW"
        kicked = await anna.social_ask(GuildKick("Bert"), GuildState, lambda g: len(g.members) == 1)
        assert [g.name for g in kicked.members] == ["Anna"]
        await _news(bert, GuildState, lambda g: g.guild_id == 0)
        with pytest.raises(RemoteError) as out:
            await bert.chat_send("guild", "let me back")
        assert out.value.remote_code == "NOT_IN_CHANNEL"
    finally:
        for c in (anna, bert, cora):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def test_a_whispered_player_whose_gateway_dies_gets_every_message_once_in_order(
    http, cluster
) -> None:
    """SIGKILL the gateway of a player while another whispers to it steadily: it resumes
    through the other gateway (with the id of the last message it got) while a third
    whispers to it at once, so a live message arrives during the replay; it has every
    message once, in order."""
    items = await owned_items(cluster.database_url)
    heard = await enter_at(http, cluster, "Hearer", (320.0, 320.0), gateway=0)
    teller = await enter_at(http, cluster, "Teller", (322.0, 320.0), gateway=1)
    quick = await enter_at(http, cluster, "Quick", (324.0, 320.0), gateway=1)
    told: list[str] = []
    try:

        async def whisper_on(count: int) -> None:
            for _ in range(count):
                text = f"message {len(told) + 1}"
                await teller.whisper("Hearer", text)
                told.append(text)
                await asyncio.sleep(1.0)  # the teller's pace: within the chat rate limit

        await whisper_on(3)
        await _heard(heard, "whisper", "message 3")
        os.kill(node_pid(cluster.pid, "gateway-1"), signal.SIGKILL)
        async with asyncio.timeout(WAIT):
            await heard.closed.wait()
        await whisper_on(3)  # said while its gateway is dead: still in the world
        assert heard.last_chat_id > 0
        await heard.resume(http, cluster.gateways[1])
        live = await quick.whisper("Hearer", "right after new_world")
        await whisper_on(2)
        await _heard(heard, "whisper", told[-1])
        await _heard(heard, "whisper", live.text)
        got = heard.chat_in("whisper")
        assert [m.text for m in got if m.sender == "Teller"] == told, "once each, in order"
        assert [m.text for m in got].count(live.text) == 1
        ids = [m.id for m in got]
        assert ids == sorted(set(ids)), "ids grow: in the stream's order"
    finally:
        for c in (heard, teller, quick):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def test_friends_see_each_other_come_and_go_and_the_ignored_are_refused(
    http, cluster, eventually
) -> None:
    """A friend request across gateways; the friend sees the other go online, into a
    dungeon (another map) and offline (a presence message each time), and offline after
    its gateway died only once its resume grace is over; `who` finds by name and map; an
    ignored player's whispers are refused."""
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
        gil = await enter_at(http, cluster, "Gil", NEAR_GATE, gateway=1)

        async def online_told() -> bool:
            return any(p.name == "Gil" and p.online and p.map_id == 1 for p in fay.presence)

        await eventually(online_told, WAIT, "Fay was told Gil came online")
        await walk_through(gil, *GATE)

        async def map_told() -> bool:
            return any(p.name == "Gil" and p.online and p.map_id == 2 for p in fay.presence)

        await eventually(map_told, WAIT, "Fay was told Gil went into the dungeon")
        found = await fay.social_ask(Who("Gi", 1, 255, 2), WhoResult)
        assert [(w.name, w.map_id) for w in found.players] == [("Gil", 2)]
        assert not (await fay.social_ask(Who("Gi", 1, 255, 1), WhoResult)).players

        await gil.social_ask(Ignore("Fay"), Friends)
        with pytest.raises(RemoteError) as refused:
            await fay.whisper("Gil", "are you there?")
        assert refused.value.remote_code == "IGNORED"

        # Gil's gateway dies: Gil shows offline only once its seat is given up (the
        # leader does so after its resume grace), not when its socket is lost.
        seen = len(fay.presence)
        os.kill(node_pid(cluster.pid, "gateway-2"), signal.SIGKILL)

        def told_offline() -> bool:
            return any(p.name == "Gil" and not p.online for p in list(fay.presence)[seen:])

        async def seat() -> str:
            rows = await fetch(
                cluster.database_url,
                "SELECT state FROM characters.player_assignments WHERE character_id = $1",
                gil.character_id,
            )
            return str(rows[0]["state"])

        async with asyncio.timeout(WAIT):
            await gil.closed.wait()
        with pytest.raises(RemoteError) as waiting:  # its seat waits for a resume:
            await fay.whisper("Gil", "still there?")  # not OFFLINE (Gil ignores Fay)
        assert waiting.value.remote_code == "IGNORED"
        assert not told_offline(), "told offline while its seat waits for a resume"

        async def offline_again() -> bool:
            return told_offline()

        await eventually(offline_again, WAIT, "Fay was told Gil went offline after its grace")
        assert await seat() == "offline"
    finally:
        for c in (fay, gil):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def test_mutes_rate_and_text_limits_refuse_clearly_and_spare_the_others(
    http, cluster, run_realmkit, eventually
) -> None:
    """A flood is refused past its burst, a long text is refused, a player muted by an
    operator (`realmkit realm mute`) is told at once and refused for how long, also
    after it logs in again, until the mute is lifted; the other player keeps chatting
    throughout."""
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
        env = {
            "REALMKIT_CONFIG": str(cluster.node_file),
            "REALMKIT_DATABASE_URL": cluster.database_url,
            "REALMKIT_NATS_URL": cluster.endpoints.nats_url,
        }

        async def realmkit(*args: str) -> dict[str, object]:
            proc = run_realmkit(*args, "--json", env=env)
            out, err = await asyncio.to_thread(proc.communicate, timeout=30)
            assert proc.returncode == 0, out + err
            answer: dict[str, object] = json.loads(out)
            return answer

        await realmkit("realm", "mute", "Azure", "Loud", "--for", "1h", "--reason", "spam")

        async def told() -> bool:
            return any(a.kind == "muted" for a in loud.announcements)

        await eventually(told, WAIT, "the muted player was told, where it plays")
        told_muted = next(a for a in loud.announcements if a.kind == "muted")
        assert (told_muted.text, told_muted.seconds) == ("spam", 3600)
        with pytest.raises(RemoteError) as muted:
            await loud.whisper("Calm", "let me talk")
        assert muted.value.remote_code == "MUTED"
        assert "more seconds" in muted.value.remote_message
        await loud.close()  # seated again, still muted: the mute is stored
        loud = await enter_at(http, cluster, "Loud", (360.0, 320.0), gateway=0)
        with pytest.raises(RemoteError) as still:
            await loud.chat_send("general", "and now?")
        assert still.value.remote_code == "MUTED"
        lifted = await realmkit("realm", "mute", "Azure", "Loud", "--lift")
        assert lifted["lifted"] is True

        async def speaks() -> bool:
            try:
                await loud.chat_send("general", "thank you")
            except RemoteError:
                return False
            return True

        await eventually(speaks, WAIT, "the lifted mute reached the gateway")
        await calm.chat_send("general", "quiet now")
    finally:
        for c in (loud, calm):
            await c.close()
    await check_invariants(cluster.database_url, items)


async def _grant(cluster, client: GameClient, count: int, money: int) -> list[int]:  # type: ignore[no-untyped-def]
    return await grant(cluster.database_url, client.character_id, count, money)


def _bert_is(rank: int) -> Callable[[GuildState], bool]:
    return lambda g: {m.name: m.rank for m in g.members}.get("Bert") == rank


def _gives(items: list[int], money: int) -> Callable[[TradeWindow], bool]:
    return lambda w: [i.item_id for i in w.mine.items] == items and w.mine.money == money


async def _owner(cluster, item_id: int) -> int | None:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT owner_character_id FROM characters.items WHERE item_id = $1",
        item_id,
    )
    return rows[0]["owner_character_id"]


async def _money(cluster, client: GameClient) -> int:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT money FROM characters.characters WHERE character_id = $1",
        client.character_id,
    )
    return int(rows[0]["money"])


async def _news(client: GameClient, kind: type[T], check: Callable[[T], bool]) -> T:
    """The next piece of news of ``kind`` that passes ``check``."""
    async with asyncio.timeout(WAIT):
        while True:
            news = await client.social_news.get()
            if isinstance(news, kind) and check(news):
                return news


async def test_a_trade_swaps_both_offers_at_once_and_mail_carries_items_and_money(
    http, cluster
) -> None:
    """Two players on two gateways trade (a changed offer resets the accepts, a stale
    accept is refused, a player far away cannot be traded with), then mail an item and
    money, to an online player and to one who logs in later; every item has one owner,
    items and money are conserved."""
    tess = await enter_at(http, cluster, "Tess", (240.0, 330.0), gateway=0)
    udo = await enter_at(http, cluster, "Udo", (242.0, 330.0), gateway=1)
    vera = await enter_at(http, cluster, "Vera", (240.0, 380.0), gateway=1)
    items = await owned_items(cluster.database_url)
    before = await conservation(cluster.database_url)
    try:
        a, b = await _grant(cluster, tess, 2, 100)
        (c,) = await _grant(cluster, udo, 1, 50)
        granted = await conservation(cluster.database_url)
        assert granted.items == before.items + 3

        opened = await tess.social_ask(TradeOpen("Udo"), TradeWindow, lambda w: w.version == 0)
        assert (opened.partner, opened.state) == ("Udo", "open")
        await _news(udo, TradeWindow, lambda w: w.partner == "Tess")
        # Each side's window is told the other's changes too: a reply is told from
        # them by what it says.
        offered = await tess.social_ask(TradeOffer([a], 30), TradeWindow, _gives([a], 30))
        await tess.social_ask(TradeAccept(offered.version), TradeWindow, lambda w: w.mine.accepted)
        countered = await udo.social_ask(TradeOffer([c], 0), TradeWindow, _gives([c], 0))
        assert countered.version > offered.version
        assert not countered.theirs.accepted, "a changed offer resets both accepts"
        with pytest.raises(RemoteError) as stale:
            await udo.social_ask(TradeAccept(offered.version), TradeWindow)
        assert stale.value.remote_code == "STALE_OFFER"
        await tess.social_ask(
            TradeAccept(countered.version),
            TradeWindow,
            lambda w: w.mine.accepted and w.version == countered.version,
        )
        done = await udo.social_ask(
            TradeAccept(countered.version), TradeWindow, lambda w: w.state != "open"
        )
        assert done.state == "committed", done
        told = await _news(tess, TradeWindow, lambda w: w.state == "committed")
        assert [i.item_id for i in told.theirs.items] == [c]
        assert (await _owner(cluster, a), await _owner(cluster, c)) == (
            udo.character_id,
            tess.character_id,
        )
        assert (await _money(cluster, tess), await _money(cluster, udo)) == (70, 80)

        with pytest.raises(RemoteError) as far:
            await tess.social_ask(TradeOpen("Vera"), TradeWindow)
        assert far.value.remote_code == "TOO_FAR"

        box = await tess.social_ask(MailSend("Udo", "ore", "for you", [b], 20), Mailbox)
        assert box.money == 50
        arrived = await _news(udo, MailArrived, lambda m: m.sender == "Tess")
        assert await _owner(cluster, b) is None, "the mail holds it"
        letter = await udo.social_ask(MailRead(arrived.mail_id), Letter)
        assert ([i.item_id for i in letter.items], letter.money) == ([b], 20)
        await udo.social_ask(MailTake(arrived.mail_id), Mailbox)
        assert await _owner(cluster, b) == udo.character_id
        assert await _money(cluster, udo) == 100

        api = LoginClient(cluster.login_url, http)
        await api.register_or_login("acct_wynn", "correct-horse-battery")
        wynn_realm = (await api.realms())[0]
        await api.character(wynn_realm.realm_id, "Wynn")
        await udo.social_ask(MailSend("Wynn", "welcome", "", [a], 5), Mailbox)
        wynn = await enter_at(http, cluster, "Wynn", (244.0, 330.0), gateway=0)
        try:
            waiting = await _news(wynn, Mailbox, lambda box: bool(box.mails))
            assert [(m.sender, m.items, m.money) for m in waiting.mails] == [("Udo", 1, 5)]
        finally:
            await wynn.close()
        assert await conservation(cluster.database_url) == granted
    finally:
        for client in (tess, udo, vera):
            await client.close()
    moved = {(a, tess.character_id), (b, tess.character_id), (c, udo.character_id)}
    moved |= {(i, o) for i, o in items if i in (a, b, c)}
    await check_invariants(cluster.database_url, items - moved)


async def test_a_world_node_killed_mid_chat_trades_and_mail_loses_and_doubles_nothing(
    http, cluster, eventually
) -> None:
    """SIGKILL the world node of players who whisper, trade and mail: the whispered one
    has every message once, in order (its socket never closed); trades open across the
    crash commit whole or are cancelled, nothing half traded; items and money are
    conserved."""
    xena = await enter_at(http, cluster, "Xena", (250.0, 340.0), gateway=0)
    yuri = await enter_at(http, cluster, "Yuri", (252.0, 340.0), gateway=1)
    items = await owned_items(cluster.database_url)
    told: list[str] = []
    try:
        given = await _grant(cluster, xena, 6, 300)
        kept = await conservation(cluster.database_url)
        opened = await xena.social_ask(TradeOpen("Yuri"), TradeWindow)
        offered = await xena.social_ask(
            TradeOffer(given[:2], 40), TradeWindow, _gives(given[:2], 40)
        )
        await yuri.social_ask(TradeAccept(offered.version), TradeWindow, lambda w: w.mine.accepted)
        node = await _host(cluster, xena)
        stop = asyncio.Event()

        async def whisper_on() -> None:
            while not stop.is_set() and len(told) < 40:
                text = f"line {len(told) + 1}"
                try:
                    await yuri.whisper("Xena", text)
                    told.append(text)
                except RemoteError:
                    pass  # refused (a limit): not told, not counted
                await asyncio.sleep(0.6)  # within the chat rate limit

        async def mail_on() -> None:
            for item in given[2:]:
                with contextlib.suppress(RemoteError):
                    await xena.social_ask(MailSend("Yuri", "loot", "", [item], 10), Mailbox)

        talking = asyncio.create_task(whisper_on())
        await _heard(xena, "whisper", "line 2")
        os.kill(node_pid(cluster.pid, node), signal.SIGKILL)
        await mail_on()

        async def moved() -> bool:
            return await _host(cluster, xena) != node or xena.transfers > 1

        await eventually(moved, WAIT, "Xena's space recovered")
        refused = ""
        try:
            await xena.social_ask(TradeAccept(offered.version), TradeWindow)
        except RemoteError as exc:
            refused = exc.remote_code  # the crash cancelled it (its seats moved)
        assert refused in ("", "TRADE_CLOSED", "NOT_FOUND", "STALE_OFFER")
        stop.set()
        await talking
        await _heard(xena, "whisper", told[-1])
        assert [m.text for m in xena.chat_in("whisper")] == told
        assert not xena.closed.is_set(), "a world node's crash closes no socket"
        final = await fetch(
            cluster.database_url,
            "SELECT state FROM social.trades WHERE trade_id = $1",
            opened.trade_id,
        )
        assert final[0]["state"] in ("committed", "cancelled")
        owners = {await _owner(cluster, i) for i in given[:2]}
        assert len(owners) == 1, "both offered items went together, or neither"
        assert await conservation(cluster.database_url) == kept
    finally:
        for client in (xena, yuri):
            await client.close()
    moved_items = {(i, xena.character_id) for i in given}
    await check_invariants(cluster.database_url, items - moved_items)
