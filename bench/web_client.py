"""What a browser player's frames cost against the Python client's, side by side.

    python bench/web_client.py [--window 30] [--pairs 1]

A local cluster (login, two gateways, an orchestrator, two world nodes); in it,
for each pair, a player in Chromium (the web client served by the login node,
driven by Playwright) and a player on the Python client (``GameClient``) made on
the same realm, entering at the same spot and walking the same pattern (east and
west, a second each way) through the window, so they see the same world. For
each: bytes received per second over the window, all of them and the frames'
alone, and frames per second, as the page's socket counted them (``bytes_in``
and ``frame_bytes_in`` of ``window.realmkit.state()``) and as the Python
client's did. Both are sent the same frames by the same gateway code, so
the figures should match; a browser receiving more would mean the web client
asks for more (keyframes, names) than it should. Figures only.

Chromium: Debian's (``scripts/system-packages``), or ``REALMKIT_CHROMIUM``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time

import aiohttp
from playwright.async_api import Page, async_playwright

from cluster_ccu import ROLES
from local_cluster import LocalCluster
from realmkit.client.game import GameClient
from realmkit.client.login import LoginClient

PASSWORD = "web-bench-password"  # noqa: S105 - throwaway accounts of a bench cluster
WAIT_MS = 30_000
LEG = 1.0  # seconds each way
SPEED = 6.0  # units a second, under the run speed


async def enter_page(page: Page, login: str, account: str, character: str) -> None:
    await page.goto(login)
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


async def walk_page(page: Page, until: float) -> None:
    await page.get_by_test_id("world").focus()
    key = "KeyD"
    while time.monotonic() < until:
        await page.keyboard.down(key)
        await asyncio.sleep(LEG)  # holding the key for one leg of the walk
        await page.keyboard.up(key)
        key = "KeyA" if key == "KeyD" else "KeyD"


async def walk_python(client: GameClient, until: float) -> None:
    """East and west a leg at a time, a move every 100 ms (the page's rate)."""
    while client.position is None:
        await client.wait_frame()
    east = True
    while time.monotonic() < until:
        leg_end = min(until, time.monotonic() + LEG)
        x, y = client.position[0] + (SPEED * LEG if east else -SPEED * LEG), client.position[1]
        while time.monotonic() < leg_end:
            await client.walk_towards(x, y, SPEED, 0.1)
            await asyncio.sleep(0.1)  # the pace of the walk
        east = not east


async def page_counts(page: Page) -> tuple[int, int, int]:
    state = await page.evaluate("window.realmkit.state()")
    return int(state["bytes_in"]), int(state["frame_bytes_in"]), int(state["frames"])


async def measure(args: argparse.Namespace, cluster: LocalCluster) -> None:
    chromium = os.environ.get("REALMKIT_CHROMIUM") or shutil.which("/usr/bin/chromium")
    if chromium is None:
        raise SystemExit("no Chromium: run `bash scripts/system-packages`")
    login = cluster.login
    async with async_playwright() as pw, aiohttp.ClientSession() as http:
        browser = await pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        pages: list[Page] = []
        clients: list[GameClient] = []
        try:
            for i in range(args.pairs):
                page = await browser.new_page()
                await enter_page(page, login, f"webbench{i}", f"Webbench{chr(97 + i)}")
                pages.append(page)
                api = LoginClient(login, http)
                await api.register_or_login(f"pybench{i}", PASSWORD)
                realm = (await api.realms())[0]
                character = await api.character(realm.realm_id, f"Pybench{chr(97 + i)}")
                ticket = await api.ticket(character.character_id)
                clients.append(await GameClient.connect(http, ticket.gateway_url, ticket.ticket))
            start = time.monotonic()
            until = start + args.window
            before_pages = [await page_counts(p) for p in pages]
            before_py = [(c.bytes, c.frame_bytes, c.frames) for c in clients]
            await asyncio.gather(
                *(walk_page(p, until) for p in pages),
                *(walk_python(c, until) for c in clients),
            )
            seconds = time.monotonic() - start
            after_pages = [await page_counts(p) for p in pages]
            after_py = [(c.bytes, c.frame_bytes, c.frames) for c in clients]
        finally:
            for c in clients:
                await c.close()
            await browser.close()
    print(f"{'client':<10} {'B/s':>8} {'frame B/s':>10} {'frames/s':>9}")
    for kind, before, after in (
        ("browser", before_pages, after_pages),
        ("python", before_py, after_py),
    ):
        for (b0, fb0, f0), (b1, fb1, f1) in zip(before, after, strict=True):
            print(
                f"{kind:<10} {(b1 - b0) / seconds:>8.0f} {(fb1 - fb0) / seconds:>10.0f}"
                f" {(f1 - f0) / seconds:>9.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--pairs", type=int, default=1, help="browser and Python players")
    args = parser.parse_args()
    cluster = LocalCluster(ROLES, "realmkit-web-")
    cluster.start()
    try:
        asyncio.run(measure(args, cluster))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
