"""Two people playing socially in two browsers on a real cluster: whispers across the
realms of a pool, a party made in the party panel, the party queued for an arena,
a match proposal answered in its dialog and its result shown; the chat missed while
the page's connection was down comes after its resume, once, in order."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, WebSocketRoute
from test_game import (
    PASSWORD,
    WAIT_MS,
    _register,
    _seen_walking,
    _state,
    _until_the_next_entry_goes_elsewhere,
)

from realmkit.client.game import GameClient
from realmkit.client.login import LoginClient

ARENA_MAP = 4  # the Sunken Ring (the classic pack's maps.toml), where arena2v2 is fought


async def _create_and_enter(page: Page, realm_id: int, character: str) -> dict[str, Any]:
    """From the realm list: make ``character`` on the realm and enter the world with it."""
    await page.get_by_test_id(f"choose-realm-{realm_id}").click(timeout=WAIT_MS)
    await page.get_by_test_id("character-name").fill(character)
    await page.get_by_test_id("create-character").click()
    await page.get_by_test_id(f"enter-{character}").click(timeout=WAIT_MS)
    await page.wait_for_function(
        "(name) => { const s = window.realmkit.state();"
        " return s && s.name === name && s.status === 'in_world' && s.position !== null; }",
        arg=character,
        timeout=WAIT_MS,
    )
    return await _state(page)


async def _tab(page: Page, name: str) -> None:
    """Show the side panel's tab ``name`` (play, social, guild, mail, queues)."""
    await page.get_by_test_id(f"tab-{name}").click()
    await page.locator(f"[data-testid=tab-{name}][aria-selected=true]").wait_for(timeout=WAIT_MS)


async def _chat(page: Page, channel: str, text: str, whisper_to: str = "") -> None:
    """Send ``text`` to ``channel`` with the chat box's channel selector."""
    await page.get_by_test_id("chat-channel").select_option(channel)
    if whisper_to:
        await page.get_by_test_id("whisper-to").fill(whisper_to)
    await page.get_by_test_id("chat-input").fill(text)
    await page.get_by_test_id("chat-send").click()


async def _sees_line(page: Page, text: str) -> None:
    await page.get_by_test_id("chat-log").get_by_text(text).wait_for(timeout=WAIT_MS)


async def _queue_state(page: Page, activity: str, state: str) -> None:
    """Wait until the queue panel shows ``activity`` in ``state``."""
    await page.locator(f"[data-testid=queue-status-{activity}][data-state={state}]").wait_for(
        timeout=WAIT_MS
    )


async def _opponents(http: aiohttp.ClientSession, cluster, realm_id: int) -> list[GameClient]:  # type: ignore[no-untyped-def]
    """Two players of the Python client on ``realm_id``, in a party (the first leads)."""
    clients = []
    for name in ("Oppa", "Oppb"):
        api = LoginClient(cluster.login_url, http)
        await api.register_or_login(f"websocial_{name.lower()}", PASSWORD)
        character = await api.character(realm_id, name)
        ticket = await api.ticket(character.character_id)
        clients.append(await GameClient.connect(http, ticket.gateway_url, ticket.ticket))
    leader, mate = clients
    await leader.party_invite("Oppb")
    async with asyncio.timeout(WAIT_MS / 1000):
        invitation = await mate.invitations.get()
    assert invitation.inviter == "Oppa"
    await mate.party_accept(invitation.party_id)
    return clients


@pytest.mark.timeout(120)
async def test_two_players_whisper_across_realms_party_queue_talk_and_befriend(
    browser: Browser, cluster, http: aiohttp.ClientSession, screenshots: Path
) -> None:
    """Amsel (Azure) and Birk (Crimson, another realm of the pool) enter through
    different gateways. Amsel whispers Birk by Name-Realm in the chat box and Birk
    answers with /w; Amsel invites Birk-Crimson in the party panel, Birk accepts
    there, both see the party (the other as Name-Realm) and its chat. Amsel queues the
    party for arena2v2: both see it queued. Two players of another party queue too:
    both browsers get the proposal dialog and accept it, the others decline, and both
    show the match cancelled, queued again. Amsel leaves the queue and joins again;
    this time all four accept: in the arena each page sees the other, of the other
    realm, walk where the server has it. Birk's player comes back as Bodo (Azure):
    both join a
    password channel in the channels panel and talk in its tab; Amsel asks Bodo to be
    friends in the friends panel, Bodo accepts there, each sees the other online on
    the continent; Amsel founds a guild in the guild panel, Bodo joins it there and
    talks in its chat; Amsel sees Bodo go offline when he leaves. No page error."""
    api = LoginClient(cluster.login_url, http)
    realms = await api.realms()
    azure, crimson = realms[0], realms[1]
    assert azure.pool_id == crimson.pool_id, "the test cluster's two realms share a pool"
    first = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    second = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    errors: list[str] = []
    for page in (first, second):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    await _register(first, cluster.login_url, "websocial_amsel")
    await _register(second, cluster.login_url, "websocial_birk")
    amsel = await _create_and_enter(first, azure.realm_id, "Amsel")
    await _until_the_next_entry_goes_elsewhere(cluster, amsel["gateway"])
    birk = await _create_and_enter(second, crimson.realm_id, "Birk")
    assert amsel["gateway"] != birk["gateway"], "the two players on different gateways"

    # A whisper across realms, by Name-Realm in the whisper field; the answer by /w.
    await _chat(first, "whisper", "psst, Birk", whisper_to=f"Birk-{crimson.name}")
    await _sees_line(first, f"To Birk-{crimson.name}: psst, Birk")
    await _sees_line(second, f"From Amsel-{azure.name}: psst, Birk")
    await _chat(second, "say", f"/w Amsel-{azure.name} hello from {crimson.name}")
    await _sees_line(first, f"From Birk-{crimson.name}: hello from {crimson.name}")
    await second.screenshot(path=str(screenshots / "social-whisper.png"))

    # A party across the two realms: invited by Name-Realm in the party panel.
    for page in (first, second):
        await _tab(page, "social")
    await first.get_by_test_id("party-invite-name").fill(f"Birk-{crimson.name}")
    await first.get_by_test_id("party-invite").click()
    invitation = second.get_by_test_id("party-invitation")
    await invitation.get_by_text(f"Amsel-{azure.name} invites you into a party").wait_for(
        timeout=WAIT_MS
    )
    await second.get_by_test_id("party-accept").click()
    for page, other in ((first, f"Birk-{crimson.name}"), (second, f"Amsel-{azure.name}")):
        members = page.get_by_test_id("party-members")
        await (
            members.get_by_test_id("party-member-Amsel")
            .get_by_text("(leader)")
            .wait_for(timeout=WAIT_MS)
        )
        await members.get_by_test_id("party-member-Birk").wait_for(timeout=WAIT_MS)
        assert other in await members.inner_text()  # the other realm's member: Name-Realm
    assert await invitation.is_hidden()
    await _chat(second, "party", "ready when you are")
    await _sees_line(first, f"[party] Birk-{crimson.name}: ready when you are")

    # The leader queues the party: one ticket, both see it.
    for page in (first, second):
        await _tab(page, "queues")
    await first.get_by_test_id("queue-activity").select_option("arena2v2")
    await first.get_by_test_id("queue-join").click()
    for page in (first, second):
        await _queue_state(page, "arena2v2", "queued")
    await first.screenshot(path=str(screenshots / "social-queued.png"))

    # Another party of two queues: a match of 2v2 is proposed to all four.
    opponents = await _opponents(http, cluster, crimson.realm_id)
    try:
        assert (await opponents[0].queue_join("arena2v2")).state == "queued"
        async with asyncio.timeout(WAIT_MS / 1000):
            proposals = [await c.proposals.get() for c in opponents]
        for page in (first, second):
            dialog = page.get_by_test_id("match-proposal")
            await dialog.wait_for(timeout=WAIT_MS)
            assert "arena2v2" in await page.get_by_test_id("match-proposal-text").inner_text()
            left = int(await page.get_by_test_id("match-countdown").inner_text())
            assert 0 < left <= 10
        await second.screenshot(path=str(screenshots / "social-proposal.png"))
        for page in (first, second):
            await page.get_by_test_id("match-accept").click()
        await (
            first.get_by_test_id("match-proposal-text")
            .get_by_text("You accepted")
            .wait_for(timeout=WAIT_MS)
        )
        await opponents[0].decline(proposals[0].match_id)  # one refusal cancels the match
        for page in (first, second):
            await (
                page.get_by_test_id("match-results")
                .get_by_text("arena2v2: cancelled")
                .wait_for(timeout=WAIT_MS)
            )
            await page.get_by_test_id("match-proposal").wait_for(state="hidden", timeout=WAIT_MS)
            await _queue_state(page, "arena2v2", "queued")
        await first.screenshot(path=str(screenshots / "social-result.png"))

        # Leaving the queue, and queueing again.
        await first.get_by_test_id("queue-leave-arena2v2").click()
        for page in (first, second):
            await _queue_state(page, "arena2v2", "cancelled")
        await first.get_by_test_id("queue-join").click()
        for page in (first, second):
            await _queue_state(page, "arena2v2", "queued")

        # This time everyone accepts: the two realms' players meet in the pool's arena,
        # each page sees the other move where the server has it.
        assert (await opponents[0].queue_join("arena2v2")).state == "queued"
        async with asyncio.timeout(WAIT_MS / 1000):
            proposals = [await c.proposals.get() for c in opponents]
        for page in (first, second):
            await page.get_by_test_id("match-proposal").wait_for(timeout=WAIT_MS)
            await page.get_by_test_id("match-accept").click()
        for client, proposal in zip(opponents, proposals, strict=True):
            await client.accept(proposal.match_id)
        for page in (first, second):
            await page.wait_for_function(
                "(map) => { const s = window.realmkit.state();"
                " return s.map_id === map && s.status === 'in_world' && s.position !== null; }",
                arg=ARENA_MAP,
                timeout=WAIT_MS,
            )
        for page in (first, second):  # told the match started: no proposal left open
            await _queue_state(page, "arena2v2", "in_match")
            await page.get_by_test_id("match-proposal").wait_for(state="hidden", timeout=WAIT_MS)
        amsel_id, birk_id = amsel["character_id"], birk["character_id"]
        sees = "(other) => window.realmkit.state().entities.some((e) => e.id === other)"
        await first.wait_for_function(sees, arg=birk_id, timeout=WAIT_MS)
        await second.wait_for_function(sees, arg=amsel_id, timeout=WAIT_MS)
        await _seen_walking(first, second, birk_id)
        await _seen_walking(second, first, amsel_id)
        await second.screenshot(path=str(screenshots / "social-arena.png"))
    finally:
        for client in opponents:
            await client.close()

    # Birk's player comes back with an Azure character: channels and guilds are a realm's.
    await second.get_by_test_id("leave").click()
    await second.get_by_test_id("back-to-realms").click()
    await _create_and_enter(second, azure.realm_id, "Bodo")

    # A realm channel joined in the channels panel, with a password, and its tab.
    for page in (first, second):
        await _tab(page, "social")
        await page.get_by_test_id("channel-name").fill("raiders")
        await page.get_by_test_id("channel-password").fill("s3cret")
        await page.get_by_test_id("channel-join").click()
        await page.get_by_test_id("channel-raiders").wait_for(timeout=WAIT_MS)
    await first.get_by_test_id("chat-tab-raiders").click()
    await _chat(second, "raiders", "raid at eight")
    await _sees_line(first, "[raiders] Bodo: raid at eight")
    assert await first.get_by_test_id("chat-log").get_by_text("[party]").count() == 0

    # Friends: asked in the friends panel, accepted in the other's; online on a map.
    await first.get_by_test_id("friend-name").fill("Bodo")
    await first.get_by_test_id("friend-add").click()
    request = second.get_by_test_id(f"friend-request-Amsel-{azure.name}")
    await request.wait_for(timeout=WAIT_MS)
    assert (await request.inner_text()).startswith("Amsel asks")  # of Bodo's own realm
    await second.get_by_test_id(f"friend-accept-Amsel-{azure.name}").click(timeout=WAIT_MS)
    await second.locator("[data-testid=friend-Amsel][data-online=true]").wait_for(timeout=WAIT_MS)
    await first.locator("[data-testid=friend-Bodo][data-online=true]").wait_for(timeout=WAIT_MS)
    assert "Elderlands" in await first.get_by_test_id("friend-Bodo").inner_text()
    await first.screenshot(path=str(screenshots / "social-friends.png"))
    # A guild founded in the guild panel, Bodo invited and accepting there; its chat.
    for page in (first, second):
        await _tab(page, "guild")
    await first.get_by_test_id("guild-create-name").fill("Dawn Riders")
    await first.get_by_test_id("guild-create").click()
    await first.get_by_test_id("guild-member-Amsel").get_by_text("leader").wait_for(timeout=WAIT_MS)
    await first.get_by_test_id("guild-invite-name").fill("Bodo")
    await first.get_by_test_id("guild-invite").click()
    await (
        second.get_by_test_id("guild-invitation")
        .get_by_text("Amsel invites you into Dawn Riders")
        .wait_for(timeout=WAIT_MS)
    )
    await second.get_by_test_id("guild-accept").click()
    for page in (first, second):
        await page.get_by_test_id("guild-member-Bodo").wait_for(timeout=WAIT_MS)
    assert await second.get_by_test_id("guild-name").inner_text() == "Dawn Riders"
    await _chat(second, "guild", "for the guild")
    await first.get_by_test_id("chat-tab-guild").click()  # from the raiders tab
    await _sees_line(first, "[guild] Bodo: for the guild")

    # Every chat message shown once, in the order of its id.
    for page in (first, second):
        state = await _state(page)
        ids = [c["id"] for c in state["chat"] if c["id"]]
        assert ids == sorted(set(ids)), ids
        assert state["last_chat_id"] == max(ids)
        assert state["errors"] == [], state["errors"]
    # Presence: Bodo leaves the world; Amsel's list shows him offline.
    await _tab(first, "social")
    await second.get_by_test_id("leave").click()
    await first.locator("[data-testid=friend-Bodo][data-online=false]").wait_for(timeout=WAIT_MS)
    assert errors == []


class _Tap:
    """The page's WebSockets through Playwright, passed on to the gateway; while the
    test holds them, a new one waits (what the page sends kept) until let through."""

    def __init__(self) -> None:
        self.through = asyncio.Event()
        self.through.set()

    async def route(self, ws: WebSocketRoute) -> None:
        kept: list[str | bytes] = []
        ws.on_message(lambda message: kept.append(message))
        await self.through.wait()
        server = ws.connect_to_server()
        server.on_message(lambda message: ws.send(message))
        for message in kept:
            server.send(message)
        ws.on_message(lambda message: server.send(message))


async def test_chat_missed_while_the_page_changed_gateways_comes_once_in_order(
    browser: Browser,
    cluster,
    http: aiohttp.ClientSession,
    node_pid: Callable[[int, str], int],
    screenshots: Path,
) -> None:
    """Teller (the Python client, on the other gateway) whispers Hearer (a page); Hearer's
    gateway stops (SIGTERM: a rolling restart) and the page's resume elsewhere is held
    while Teller whispers twice more; let through, the resume sends the id of the last
    message shown (chat_after): the two missed come, then a live one, each once, in
    order. (Last in the module: it stops a gateway, which the supervisor starts again.)"""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tap = _Tap()
    await page.route_web_socket("**/ws", tap.route)
    api = LoginClient(cluster.login_url, http)
    azure = (await api.realms())[0]
    await _register(page, cluster.login_url, "websocial_hearer")
    hearer = await _create_and_enter(page, azure.realm_id, "Hearer")
    hearers = cluster.gateways.index(hearer["gateway"])
    await api.register_or_login("websocial_teller", PASSWORD)
    character = await api.character(azure.realm_id, "Teller")
    ticket = await api.ticket(character.character_id)
    teller = await GameClient.connect(http, cluster.gateways[1 - hearers], ticket.ticket)
    try:
        first = await teller.whisper("Hearer", "before the restart")
        await _sees_line(page, "From Teller: before the restart")
        assert (await _state(page))["last_chat_id"] == first.id
        tap.through.clear()
        os.kill(node_pid(cluster.pid, f"gateway-{hearers + 1}"), signal.SIGTERM)
        await page.wait_for_function(
            "() => window.realmkit.state().status === 'resuming'", timeout=WAIT_MS
        )
        missed = [await teller.whisper("Hearer", f"missed {i}") for i in (1, 2)]
        tap.through.set()
        await page.wait_for_function(
            "() => { const s = window.realmkit.state();"
            " return s.resumes === 1 && s.status === 'in_world'; }",
            timeout=WAIT_MS,
        )
        await _sees_line(page, "From Teller: missed 2")
        live = await teller.whisper("Hearer", "after the resume")
        await _sees_line(page, "From Teller: after the resume")
    finally:
        await teller.close()
    state = await _state(page)
    assert state["gateway"] == cluster.gateways[1 - hearers]
    whispers = [c for c in state["chat"] if c["channel"] == "whisper"]
    assert [c["text"] for c in whispers] == [
        "before the restart",
        "missed 1",
        "missed 2",
        "after the resume",
    ]
    assert [c["id"] for c in whispers] == [first.id, *(m.id for m in missed), live.id]
    assert await page.get_by_test_id("chat-log").get_by_text("missed 1").count() == 1
    await page.screenshot(path=str(screenshots / "social-resumed-chat.png"))
    assert errors == []
