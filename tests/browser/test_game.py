"""A person playing in the browser: the web client served by the login node, on a
real cluster, driven through Chromium as a player would (keyboard, mouse)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Browser, Page

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.client.game import GameClient, world_position
from realmkit.client.login import LoginClient
from realmkit.protocol.cluster import GatewayLoad
from realmkit.sim.store import Kind

WAIT_MS = 20_000
CONTINENT = 1
WOLVES = (359.8, 210.3)  # the classic pack's first wolf pack (spawns.toml)
PORTAL = (1580.0, 1590.0)  # the west edge of the Gloomdeep Gate (maps.toml): to map 2
PASSWORD = "correct-horse-battery"


async def _until_the_next_entry_goes_elsewhere(cluster, gateway_url: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the gateway at ``gateway_url`` has reported more players than each
    other gateway (gateways report once a second, to the login node as to this test):
    the login node sends the next player it hands a ticket to another gateway."""
    names = [f"gateway-{i + 1}" for i in range(len(cluster.gateways))]
    mine = names[cluster.gateways.index(gateway_url)]
    latest: dict[str, int] = {}
    ready = asyncio.Event()

    async def heard(load: GatewayLoad) -> None:
        latest[load.gateway_id] = load.players
        others = [latest.get(n) for n in names if n != mine]
        if mine in latest and all(o is not None and o < latest[mine] for o in others):
            ready.set()

    bus = await NatsBus.connect(cluster.endpoints.nats_url, name="test-loads")
    try:
        for name in names:
            await bus.subscribe(subjects.gateway_load(name), GatewayLoad, heard)
        async with asyncio.timeout(WAIT_MS / 1000):
            await ready.wait()
    finally:
        await bus.close()


async def _state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate("window.realmkit.state()")
    return state


async def _register(page: Page, login_url: str, account: str) -> None:
    """Register ``account`` in the page: on the realm list, no login error."""
    await page.goto(login_url + "/")
    await page.get_by_test_id("username").fill(account)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("register").click()
    await page.wait_for_function(
        "() => window.realmkit.screen() === 'realm-screen'"
        " || document.getElementById('login-error').textContent !== ''",
        timeout=WAIT_MS,
    )
    assert await page.get_by_test_id("login-error").inner_text() == ""


async def _create_character(page: Page, login_url: str, account: str, character: str) -> None:
    """Register ``account`` in the page and make ``character`` on the first realm."""
    await _register(page, login_url, account)
    await page.locator("[data-testid^=choose-realm-]").first.click(timeout=WAIT_MS)
    await page.get_by_test_id("character-name").fill(character)
    await page.get_by_test_id("create-character").click()
    await page.get_by_test_id(f"enter-{character}").wait_for(timeout=WAIT_MS)


async def _enter_world(page: Page, login_url: str, account: str, character: str) -> int:
    """Register ``account`` in the page, make ``character`` on the first realm and enter
    the world with it; its character id once the page knows where it stands."""
    await _create_character(page, login_url, account, character)
    return await _enter(page, character)


async def _enter(page: Page, character: str) -> int:
    """Enter the world as ``character`` (listed); its id once the page knows where it is."""
    await page.get_by_test_id(f"enter-{character}").click(timeout=WAIT_MS)
    await page.wait_for_function(
        "() => { const s = window.realmkit.state();"
        " return s && s.status === 'in_world' && s.position !== null; }",
        timeout=WAIT_MS,
    )
    state = await _state(page)
    character_id: int = state["character_id"]
    return character_id


async def _seen_walking(observer: Page, walker: Page, walker_id: int) -> None:
    """``walker`` walks east twice; ``observer`` has it where the server acknowledged it
    to the walker, before, between and after its walks."""
    at_server = """([other, x, y]) => window.realmkit.state().entities
        .some((e) => e.id === other && Math.abs(e.x - x) <= 0.25 && Math.abs(e.y - y) <= 0.25)"""
    start = (await _state(walker))["server_position"]
    for _ in range(2):
        was = (await _state(walker))["server_position"]
        await observer.wait_for_function(
            at_server, arg=[walker_id, was["x"], was["y"]], timeout=WAIT_MS
        )
        await _walk_east(walker, 4.0)
    moved = (await _state(walker))["server_position"]
    assert moved["x"] >= start["x"] + 7.5
    await observer.wait_for_function(
        at_server, arg=[walker_id, moved["x"], moved["y"]], timeout=WAIT_MS
    )


async def _walk_east(page: Page, units: float) -> dict[str, Any]:
    """Hold D until the page's own position is ``units`` further east, then let go and
    wait until the server acknowledged every move and agrees with the page."""
    start = (await _state(page))["position"]
    await page.get_by_test_id("world").focus()
    await page.keyboard.down("KeyD")
    try:
        await page.wait_for_function(
            f"() => window.realmkit.state().position.x >= {start['x'] + units}",
            timeout=WAIT_MS,
        )
    finally:
        await page.keyboard.up("KeyD")
    # Settled: no move in flight, and the server's row (1/8 unit) where the page is.
    await page.wait_for_function(
        """() => { const s = window.realmkit.state();
            return s.pending === 0 && s.server_position !== null
                && Math.abs(s.server_position.x - s.position.x) <= 0.125
                && Math.abs(s.server_position.y - s.position.y) <= 0.125; }""",
        timeout=WAIT_MS,
    )
    return await _state(page)


def _collect_page_errors(page: Page, errors: list[str]) -> None:
    """Uncaught script errors of ``page`` go into ``errors``."""
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))


async def test_login_errors_are_shown_with_what_their_code_means(browser: Browser, cluster) -> None:
    """A wrong password and an account name already taken are shown with their code
    and its meaning, and the page stays on the login screen; on the character screen,
    a name the server would refuse is explained, and one taken shows its code; a
    reload keeps the session, Log out ends it; a bad account name is explained before
    it is sent."""
    page = await browser.new_page()
    await page.goto(cluster.login_url + "/")
    await page.get_by_test_id("username").fill("nobody_here")
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("login").click()
    error = page.get_by_test_id("login-error")
    await error.get_by_text("Wrong account name or password").wait_for(timeout=WAIT_MS)
    assert "BAD_CREDENTIALS" in await error.inner_text()
    await page.get_by_test_id("register").click()
    await page.locator("[data-testid^=choose-realm-]").first.click(timeout=WAIT_MS)
    # A name the login node would refuse is explained before it is sent; a name taken
    # is the login node's refusal, shown with its code.
    character_error = page.get_by_test_id("character-error")
    await page.get_by_test_id("character-name").fill("Ab1")
    await page.get_by_test_id("create-character").click()
    await character_error.get_by_text("2 to 12 letters").wait_for(timeout=WAIT_MS)
    for _ in range(2):
        await page.get_by_test_id("character-name").fill("Twiceover")
        await page.get_by_test_id("create-character").click()
        await page.get_by_test_id("enter-Twiceover").wait_for(timeout=WAIT_MS)
    await character_error.get_by_text("That name is already taken").wait_for(timeout=WAIT_MS)
    assert "ALREADY_EXISTS" in await character_error.inner_text()
    assert await page.get_by_test_id("character-list").get_by_text("Twiceover").count() == 1
    # The session is the tab's: a reload goes back to the realm list, logged in.
    await page.reload()
    await page.locator("[data-testid^=choose-realm-]").first.wait_for(timeout=WAIT_MS)
    assert await page.evaluate("window.realmkit.screen()") == "realm-screen"
    await page.get_by_test_id("logout").click()  # and Log out forgets it
    assert await page.evaluate("window.realmkit.screen()") == "login-screen"
    await page.reload()
    await page.get_by_test_id("username").wait_for(timeout=WAIT_MS)
    # An account name the login node would refuse is explained before it is sent.
    await page.get_by_test_id("username").fill("ab")
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("register").click()
    await error.get_by_text("3 to 32 letters, digits or underscores").wait_for(timeout=WAIT_MS)
    await page.get_by_test_id("username").fill("nobody_here")
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("register").click()
    await error.get_by_text("That name is already taken").wait_for(timeout=WAIT_MS)
    assert "ALREADY_EXISTS" in await error.inner_text()
    assert await page.evaluate("window.realmkit.screen()") == "login-screen"
    await page.close()


async def test_a_player_registers_enters_and_walks_where_the_server_agrees(
    browser: Browser, cluster, http: aiohttp.ClientSession, screenshots: Path
) -> None:
    """In the page: register, create a character, enter the world and walk east with
    the keyboard; another player (the Python client) sees the character where the
    page says it stands; leaving and entering again finds it there; no error."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(page, errors)
    character_id = await _enter_world(page, cluster.login_url, "webwalker", "Webber")
    # A new character has creatures in sight at once (the boars by the start).
    await page.wait_for_function(
        f"() => window.realmkit.state().entities.some((e) => e.kind === {int(Kind.CREATURE)})",
        timeout=WAIT_MS,
    )
    after = await _walk_east(page, 6.0)
    assert after["corrections"] == 0
    assert after["errors"] == []
    mine = after["position"]

    api = LoginClient(cluster.login_url, http)
    await api.register_or_login("webwatcher", PASSWORD)
    realm = (await api.realms())[0]
    watcher_character = await api.character(realm.realm_id, "Watcher")
    ticket = await api.ticket(watcher_character.character_id)
    watcher = await GameClient.connect(http, cluster.gateways[1], ticket.ticket)
    try:
        async with asyncio.timeout(WAIT_MS / 1000):
            while True:
                row = watcher.visible().get(character_id)
                if row is not None:
                    x, y, _ = world_position(row)
                    if math.dist((x, y), (mine["x"], mine["y"])) <= 0.2:
                        break
                await watcher.wait_frame()
    finally:
        await watcher.close()
    await page.screenshot(path=str(screenshots / "walk.png"))
    # Leave and enter again: the character is back where it stood (saved on leaving).
    await page.get_by_test_id("leave").click()
    await _enter(page, "Webber")
    again = (await _state(page))["position"]
    assert math.dist((again["x"], again["y"]), (mine["x"], mine["y"])) <= 0.2
    assert errors == []
    await page.close()


async def test_two_players_in_two_browsers_see_each_other_move(
    browser: Browser, cluster, screenshots: Path
) -> None:
    """Two browser contexts, two players, through different gateways: each has the
    other in its entity table; one walks east, and the other page has it where the
    server acknowledged it to the walker, before, between and after its walks."""
    first = await (await browser.new_context()).new_page()
    second = await (await browser.new_context()).new_page()
    errors: list[str] = []
    _collect_page_errors(first, errors)
    _collect_page_errors(second, errors)
    a = await _enter_world(first, cluster.login_url, "webalpha", "Alpha")
    await _until_the_next_entry_goes_elsewhere(cluster, (await _state(first))["gateway"])
    b = await _enter_world(second, cluster.login_url, "webbravo", "Bravo")
    assert (await _state(first))["gateway"] != (await _state(second))["gateway"]
    sees = "(other) => window.realmkit.state().entities.some((e) => e.id === other)"
    await first.wait_for_function(sees, arg=b, timeout=WAIT_MS)
    await second.wait_for_function(sees, arg=a, timeout=WAIT_MS)
    await _seen_walking(first, second, b)
    await first.screenshot(path=str(screenshots / "two-players.png"))
    assert errors == []


async def _place(cluster, name: str, x: float, y: float) -> None:  # type: ignore[no-untyped-def]
    """Put a character (not in the world) at (x, y) on the continent, in its save."""
    conn = await asyncpg.connect(cluster.database_url)
    try:
        await conn.execute(
            "UPDATE characters.characters SET map_id = $2, pos_x = $3, pos_y = $4, pos_z = 10 "
            "WHERE name = $1",
            name,
            CONTINENT,
            x,
            y,
        )
    finally:
        await conn.close()


@pytest.mark.timeout(180)
async def test_a_player_targets_a_creature_with_the_mouse_attacks_it_and_talks(
    browser: Browser, cluster, screenshots: Path
) -> None:
    """Near the wolves: a click on a wolf targets it (its name from the table), Attack
    walks up to it and hits it (its health drops in the table), and what the player
    says in the chat box comes back in the chat log."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(page, errors)
    await _create_character(page, cluster.login_url, "webhunter", "Hunter")
    await _place(cluster, "Hunter", WOLVES[0] - 14.0, WOLVES[1])
    await _enter(page, "Hunter")
    creature = await page.wait_for_function(
        "() => { const e = window.realmkit.state().entities"
        ".find((e) => e.kind === 2 && !(e.flags & 1)); return e ? e.id : null; }",
        timeout=WAIT_MS,
    )
    wolf = await creature.json_value()
    # Firebolt with nothing targeted is refused in the page, saying why; twice, counted.
    for _ in range(2):
        await page.get_by_test_id("cast-1").click()
    await page.wait_for_function(
        "() => window.realmkit.state().events.includes("
        "'Firebolt: select a target first (click a creature or a player) \u00d7 2')",
        timeout=WAIT_MS,
    )
    at = await page.evaluate("(id) => window.realmkit.screenOf(id)", wolf)
    await page.mouse.click(at["x"], at["y"])
    await page.wait_for_function(
        "(id) => window.realmkit.state().target === id", arg=wolf, timeout=WAIT_MS
    )
    assert (await page.get_by_test_id("target-name").inner_text()).startswith("Forest Wolf")
    await page.get_by_test_id("attack").click()
    await page.wait_for_function(
        """(id) => { const s = window.realmkit.state();
            const e = s.entities.find((e) => e.id === id);
            return !e || e.hp < 100 || s.events.some((t) => t.startsWith("you killed")); }""",
        arg=wolf,
        timeout=40_000,
    )
    await page.get_by_test_id("cast-1").click()  # Firebolt, from the content
    await page.screenshot(path=str(screenshots / "combat.png"))
    await page.get_by_test_id("stop-attack").click()
    await page.get_by_test_id("chat-input").fill("well met, wolves")
    await page.get_by_test_id("chat-send").click()
    await (
        page.get_by_test_id("chat-log")
        .get_by_text("Hunter: well met, wolves")
        .wait_for(timeout=WAIT_MS)
    )
    events = (await _state(page))["events"]
    assert not [e for e in events if "unknown spell" in e], events
    assert errors == []


async def _walk_through_portal(page: Page, key: str, transfers: int, map_id: int) -> None:
    """Hold ``key`` until the page has seen its ``transfers``-th transfer, then wait
    until it stands in the world of ``map_id``."""
    await page.get_by_test_id("world").focus()
    await page.keyboard.down(key)
    try:
        await page.wait_for_function(
            f"() => window.realmkit.state().transfers >= {transfers}", timeout=WAIT_MS
        )
    finally:
        await page.keyboard.up(key)
    await page.wait_for_function(
        f"""() => {{ const s = window.realmkit.state();
            return s.status === 'in_world' && s.map_id === {map_id} && s.position !== null; }}""",
        timeout=WAIT_MS,
    )


async def test_a_portal_shows_the_loading_screen_and_enters_the_dungeon(
    browser: Browser, cluster, screenshots: Path
) -> None:
    """Walking into the dungeon's portal: transfer_pending, the loading overlay, then
    new_world on map 2, where the character walks again with the server agreeing; then
    west through the dungeon's way out, back on the continent, walking on."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(page, errors)
    await _create_character(page, cluster.login_url, "webdelver", "Delver")
    await _place(cluster, "Delver", PORTAL[0] - 4.0, PORTAL[1])
    await _enter(page, "Delver")
    overlay = page.get_by_test_id("loading-overlay")
    # The transfer may take less than one of Playwright's polls: the page records it.
    await page.evaluate(
        """() => {
            const overlay = document.getElementById("loading-overlay");
            window.overlayShown = 0;
            new MutationObserver(() => { if (!overlay.hidden) window.overlayShown += 1; })
                .observe(overlay, { attributes: true, attributeFilter: ["hidden"] });
        }"""
    )
    await _walk_through_portal(page, "KeyD", 1, 2)
    # The loading screen came up between transfer_pending and new_world, and went.
    assert await page.evaluate("window.overlayShown") >= 1
    assert await overlay.is_hidden()
    await _walk_east(page, 3.0)
    await page.screenshot(path=str(screenshots / "dungeon.png"))
    # And back: west through the Way Out (x under 4) to the continent.
    await _walk_through_portal(page, "KeyA", 2, 1)
    assert await overlay.is_hidden()
    await _walk_east(page, 2.0)
    assert errors == []


async def test_a_stopping_gateway_hands_the_page_to_another_and_play_goes_on(
    browser: Browser, cluster, node_pid: Callable[[int, str], int], screenshots: Path
) -> None:
    """SIGTERM the page's gateway (a rolling restart): told `reconnect`, the page
    resumes with its token through the other gateway by itself, its character where
    it stood, and walks on with the server agreeing. (Last in the module: it stops a
    gateway, which the supervisor starts again.)"""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(page, errors)
    await _enter_world(page, cluster.login_url, "webroamer", "Roamer")
    before = await _walk_east(page, 2.0)
    port = int(before["gateway"].rsplit(":", 1)[1].split("/")[0])
    name = next(f"gateway-{i + 1}" for i, url in enumerate(cluster.gateways) if f":{port}/" in url)
    os.kill(node_pid(cluster.pid, name), signal.SIGTERM)
    await page.wait_for_function(
        """() => { const s = window.realmkit.state();
            return s.resumes === 1 && s.status === 'in_world' && s.position !== null; }""",
        timeout=WAIT_MS,
    )
    after = await _state(page)
    assert after["gateway"] != before["gateway"]
    assert (
        math.dist(
            (after["position"]["x"], after["position"]["y"]),
            (before["position"]["x"], before["position"]["y"]),
        )
        < 1.0
    )
    await _walk_east(page, 2.0)
    await page.screenshot(path=str(screenshots / "resumed.png"))
    assert errors == []


async def test_a_page_whose_gateway_is_killed_resumes_by_itself(
    browser: Browser, cluster, node_pid: Callable[[int, str], int]
) -> None:
    """SIGKILL the page's gateway (no `reconnect`, the socket just drops): the page
    resumes with its token by itself, its character where it stood, and walks on.
    (After the SIGTERM test: both stop a gateway, which the supervisor starts again.)"""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(page, errors)
    await _enter_world(page, cluster.login_url, "webcrashed", "Crashed")
    before = await _walk_east(page, 2.0)
    port = int(before["gateway"].rsplit(":", 1)[1].split("/")[0])
    name = next(f"gateway-{i + 1}" for i, url in enumerate(cluster.gateways) if f":{port}/" in url)
    os.kill(node_pid(cluster.pid, name), signal.SIGKILL)
    await page.wait_for_function(
        """() => { const s = window.realmkit.state();
            return s.resumes >= 1 && s.status === 'in_world' && s.position !== null; }""",
        timeout=WAIT_MS,
    )
    after = await _state(page)
    assert (
        math.dist(
            (after["position"]["x"], after["position"]["y"]),
            (before["position"]["x"], before["position"]["y"]),
        )
        < 1.0
    )
    await _walk_east(page, 2.0)
    assert errors == []
