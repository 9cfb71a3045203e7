"""A person playing in the browser: the web client served by the login node, on a
real cluster, driven through Chromium as a player would (keyboard, mouse)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page

from realmkit.client.game import GameClient, world_position
from realmkit.client.login import LoginClient

WAIT_MS = 20_000
PASSWORD = "correct-horse-battery"


async def _state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate("window.realmkit.state()")
    return state


async def _enter_world(page: Page, login_url: str, account: str, character: str) -> int:
    """Register ``account`` in the page, make ``character`` on the first realm and enter
    the world with it; its character id once the page knows where it stands."""
    await page.goto(login_url + "/")
    await page.get_by_test_id("username").fill(account)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("register").click()
    await page.locator("[data-testid^=choose-realm-]").first.click(timeout=WAIT_MS)
    await page.get_by_test_id("character-name").fill(character)
    await page.get_by_test_id("create-character").click()
    await page.get_by_test_id(f"enter-{character}").click(timeout=WAIT_MS)
    await page.wait_for_function(
        "() => { const s = window.realmkit.state();"
        " return s && s.status === 'in_world' && s.position !== null; }",
        timeout=WAIT_MS,
    )
    state = await _state(page)
    character_id: int = state["character_id"]
    return character_id


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


async def test_a_player_registers_enters_and_walks_where_the_server_agrees(
    browser: Browser, cluster, http: aiohttp.ClientSession, screenshots: Path
) -> None:
    """In the page: register, create a character, enter the world and walk east with
    the keyboard; another player (the Python client) sees the character where the
    page says it stands, and the page made no error."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(page, errors)
    character_id = await _enter_world(page, cluster.login_url, "webwalker", "Webber")
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
    assert errors == []
    await page.close()


async def test_two_players_in_two_browsers_see_each_other_move(
    browser: Browser, cluster, screenshots: Path
) -> None:
    """Two browser contexts, two players: each has the other in its entity table, and
    one sees the other walk."""
    first = await (await browser.new_context()).new_page()
    second = await (await browser.new_context()).new_page()
    errors: list[str] = []
    _collect_page_errors(first, errors)
    _collect_page_errors(second, errors)
    a = await _enter_world(first, cluster.login_url, "webalpha", "Alpha")
    b = await _enter_world(second, cluster.login_url, "webbravo", "Bravo")
    sees = "(other) => window.realmkit.state().entities.some((e) => e.id === other)"
    await first.wait_for_function(sees, arg=b, timeout=WAIT_MS)
    await second.wait_for_function(sees, arg=a, timeout=WAIT_MS)
    before = next(e for e in (await _state(first))["entities"] if e["id"] == b)
    await _walk_east(second, 5.0)
    await first.wait_for_function(
        """([other, x]) => window.realmkit.state().entities
            .some((e) => e.id === other && e.x >= x)""",
        arg=[b, before["x"] + 4.5],
        timeout=WAIT_MS,
    )
    await first.screenshot(path=str(screenshots / "two-players.png"))
    assert errors == []
