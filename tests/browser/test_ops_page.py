"""The operations page in the browser, on a real cluster: it is an operator's only,
it shows every node, and draining a world node from it moves the spaces with a
browser player still playing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page
from test_game import PASSWORD, WAIT_MS, _collect_page_errors, _enter_world, _state, _walk_east

from realmkit import operators
from realmkit.store.postgres import Database

OPERATOR = ("gm_webops", "an operator's long password")


async def _log_in(page: Page, url: str, account: str, password: str) -> None:
    await page.goto(url + "/ops")
    await page.get_by_test_id("login-username").fill(account)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()


async def _ops_state(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.post(
        url + "/api/login", json={"username": OPERATOR[0], "password": OPERATOR[1]}
    ) as resp:
        assert resp.status == 200
        token = (await resp.json())["token"]
    async with http.get(url + "/api/ops/state", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
        state: dict[str, Any] = await r.json()
        return state


async def test_the_ops_page_refuses_a_player_shows_every_node_and_drains_one(
    browser: Browser, cluster, http: aiohttp.ClientSession, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    """A player's account sees the page refuse it. An operator sees a row for every node
    the cluster registered; draining the world node of a browser player's space, from
    its row's button and the page's confirmation, moves the space to the other world
    node, and the player walks on, never told to leave."""
    db = await Database.connect(cluster.database_url, max_size=1)
    try:
        await operators.add(db, *OPERATOR)
        async with db.connection() as conn:
            rows = await conn.fetch("SELECT node_id FROM cluster.nodes")
        nodes = [r["node_id"] for r in rows]
    finally:
        await db.close()
    assert len(nodes) >= 8, nodes

    player = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    _collect_page_errors(player, errors)
    await _enter_world(player, cluster.login_url, "opsplayer", "Drainwalker")
    instance_id = (await _state(player))["instance_id"]

    # A player's account: the page says it is for operators, and shows nothing else.
    refused = await browser.new_page()
    await _log_in(refused, cluster.login_url, "opsplayer", PASSWORD)
    await refused.get_by_test_id("forbidden-view").wait_for(state="visible", timeout=WAIT_MS)
    assert not await refused.get_by_test_id("dashboard").is_visible()
    await refused.close()

    ops = await browser.new_page(viewport={"width": 1400, "height": 1000})
    _collect_page_errors(ops, errors)
    ops.on("dialog", lambda dialog: dialog.accept())
    await _log_in(ops, cluster.login_url, *OPERATOR)
    for node in nodes:
        await ops.locator(f'[data-testid="nodes-table-row"][data-node="{node}"]').wait_for(
            timeout=WAIT_MS
        )

    state = await _ops_state(http, cluster.login_url)
    space = next(i for i in state["instances"] if i["instance_id"] == instance_id)
    node = space["node_id"]
    await ops.get_by_test_id(f"drain-{node}").click(timeout=WAIT_MS)
    await ops.get_by_test_id("confirm-yes").click(timeout=WAIT_MS)
    result = ops.get_by_test_id("action-result")
    await ops.wait_for_function(
        "() => ['ok', 'error'].includes("
        "document.querySelector('[data-testid=action-result]').dataset.outcome)",
        timeout=60_000,
    )
    assert await result.get_attribute("data-outcome") == "ok", await result.inner_text()
    state = await _ops_state(http, cluster.login_url)
    moved = next(i for i in state["instances"] if i["instance_id"] == instance_id)
    assert moved["node_id"] != node
    await ops.screenshot(path=str(screenshots / "ops.png"), full_page=True)

    # Still in the world on the same socket, and walking.
    walked = await _walk_east(player, 4.0)
    assert walked["status"] == "in_world"
    assert walked["instance_id"] == instance_id
    assert errors == []
    await ops.close()
    await player.close()
