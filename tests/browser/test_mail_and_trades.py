"""Mail, trades, who and guild controls in two browsers on a real cluster: a letter
with an item and money sent from the Mail tab, seen arriving, read and taken in the
other page; a face-to-face trade of an item for money, both accepting the version
they saw; a guild leader promoting, setting the message of the day and kicking,
each through the page's confirm dialog; the who search; every side tab fitting a
1280x800 window. Checked against the pages' state and the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page
from test_game import WAIT_MS, _create_character, _enter, _place, _state
from test_social_panels import _tab

from realmkit.store.characters import ItemRepo
from realmkit.store.postgres import Database

WOLF_PELT = 2  # the classic pack's items.toml
SCOUTS_HOOD = 7
TIMES = "\N{MULTIPLICATION SIGN}"  # how the page counts items
VIEWPORT = {"width": 1280, "height": 800}
# Where the traders stand on the continent: 4 yards apart, far from any creature.
MEETING = (260.0, 260.0)


async def _character_id(cluster, name: str) -> int:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(cluster.database_url)
    try:
        found: int = await conn.fetchval(
            "SELECT character_id FROM characters.characters WHERE name = $1", name
        )
    finally:
        await conn.close()
    return found


async def _grant(cluster, name: str, template_id: int, count: int, money: int) -> int:  # type: ignore[no-untyped-def]
    """Give ``name`` (not in the world) an item of ``template_id`` and ``money``: the
    item's id."""
    owner = await _character_id(cluster, name)
    db = await Database.connect(cluster.database_url, max_size=1)
    try:
        items = ItemRepo(db)
        item_id = (await items.reserve_ids())[0]
        await items.grant(item_id, template_id, owner, stack_count=count)
        async with db.connection() as conn:
            await conn.execute(
                "UPDATE characters.characters SET money = $2 WHERE character_id = $1", owner, money
            )
    finally:
        await db.close()
    return item_id


async def _fetchrow(cluster, query: str, *args: Any) -> asyncpg.Record | None:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(cluster.database_url)
    try:
        row: asyncpg.Record | None = await conn.fetchrow(query, *args)
    finally:
        await conn.close()
    return row


async def _new_page(browser: Browser, errors: list[str]) -> Page:
    page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def _until(page: Page, condition: str, arg: Any = None) -> None:
    """Wait until ``condition`` (a function of the page's state and ``arg``) holds."""
    await page.wait_for_function(
        f"(arg) => {{ const s = window.realmkit.state(); return s && ({condition}); }}",
        arg=arg,
        timeout=WAIT_MS,
    )


async def _confirm(page: Page, text: str) -> None:
    """The page's confirm dialog asks ``text`` (a part of it): Yes."""
    dialog = page.get_by_test_id("confirm-dialog")
    await dialog.get_by_text(text).wait_for(timeout=WAIT_MS)
    await page.get_by_test_id("confirm-yes").click()
    await dialog.wait_for(state="hidden", timeout=WAIT_MS)


async def _fits_the_window(page: Page) -> None:
    """On every side tab: no page scroll, and the side panel shows all of the tab (it
    does not scroll, nor does the tab's page: only long lists scroll in themselves)."""
    for tab in ("play", "social", "who", "guild", "mail", "queues"):
        await _tab(page, tab)
        sizes = await page.evaluate(
            """() => { const side = document.getElementById("side");
                const tab = [...side.querySelectorAll(".tab-page")].find((p) => !p.hidden);
                return { page: document.scrollingElement.scrollHeight, window: window.innerHeight,
                         side: side.scrollHeight, side_shown: side.clientHeight,
                         tab: tab.scrollHeight, tab_shown: tab.clientHeight }; }"""
        )
        assert sizes["page"] <= sizes["window"], (tab, sizes)
        assert sizes["side"] <= sizes["side_shown"], (tab, sizes)
        assert sizes["tab"] <= sizes["tab_shown"], (tab, sizes)
    await _tab(page, "play")


@pytest.mark.timeout(150)
async def test_a_letter_with_an_item_and_money_is_sent_read_and_taken_in_the_pages(
    browser: Browser, cluster, screenshots: Path
) -> None:
    """Mailer (3 wolf pelts, 500 money) finds Reader with the who search, is told in
    the page why a bad recipient is refused, and mails Reader the pelts and 120
    money from the Mail tab: they leave Mailer's inventory. Reader's Mail tab is
    marked; there the letter is unread, is read, its pelts and money taken (into
    Reader's inventory, and the database's), and deleted after a confirmation.
    Every side tab fits the 1280x800 window."""
    errors: list[str] = []
    mailer = await _new_page(browser, errors)
    reader = await _new_page(browser, errors)
    await _create_character(mailer, cluster.login_url, "webmail_mailer", "Mailer")
    await _create_character(reader, cluster.login_url, "webmail_reader", "Reader")
    pelts = await _grant(cluster, "Mailer", WOLF_PELT, 3, 500)
    await _enter(mailer, "Mailer")
    reader_id = await _enter(reader, "Reader")
    await _until(mailer, "s.inventory.fromServer && s.inventory.money === 500")
    await _fits_the_window(mailer)

    # Who: Reader is online, on the continent.
    await _tab(mailer, "who")
    await mailer.get_by_test_id("who-name").fill("Rea")
    await mailer.get_by_test_id("who-level-min").fill("1")
    await mailer.get_by_test_id("who-map").select_option("1")
    await mailer.get_by_test_id("who-search").click()
    found = mailer.get_by_test_id("who-result-Reader")
    await found.wait_for(timeout=WAIT_MS)
    assert "Elderlands" in await found.inner_text()
    who = (await _state(mailer))["social"]["who"]
    assert [(p["name"], p["map_id"]) for p in who] == [("Reader", 1)]
    # A level range upside down is refused in the page, saying why.
    await mailer.get_by_test_id("who-level-min").fill("20")
    await mailer.get_by_test_id("who-level-max").fill("10")
    await mailer.get_by_test_id("who-search").click()
    notice = mailer.get_by_test_id("side-notice")
    await notice.get_by_text("the lowest level above the highest").wait_for(timeout=WAIT_MS)
    await mailer.screenshot(path=str(screenshots / "who.png"))
    await mailer.get_by_test_id("side-notice-close").click()

    # A letter: first to a name the protocol refuses (said in the page, nothing sent).
    await _tab(mailer, "mail")
    await mailer.get_by_test_id("mail-compose").click()
    await mailer.get_by_test_id("mail-to").fill("R2-D2")
    await mailer.get_by_test_id("mail-subject").fill("Pelts for you")
    await mailer.get_by_test_id("mail-send").click()
    await notice.get_by_text("to: a name").wait_for(timeout=WAIT_MS)
    assert await notice.get_attribute("data-code") == "INVALID_INPUT"
    await mailer.get_by_test_id("mail-to").fill("Reader")
    await mailer.get_by_test_id("mail-body").fill("Three pelts\nand some coin.")
    await mailer.get_by_test_id("mail-money").fill("120")
    await mailer.get_by_test_id(f"mail-item-{pelts}").check()
    await mailer.screenshot(path=str(screenshots / "mail-compose.png"))
    await mailer.get_by_test_id("mail-send").click()
    await _until(
        mailer,
        "s.social.sent === 1 && s.inventory.money === 380"
        " && !s.inventory.items.some((i) => i.item_id === arg)",
        pelts,
    )
    await mailer.get_by_test_id("mail-inbox").wait_for(timeout=WAIT_MS)  # the form closed
    letter = await _fetchrow(
        cluster,
        "SELECT mail_id, money, read_at FROM social.mail WHERE recipient_id = $1",
        reader_id,
    )
    assert letter is not None
    assert letter["money"] == 120
    assert letter["read_at"] is None
    mail_id = letter["mail_id"]

    # Reader: the Mail tab is marked; the letter is there, unread.
    await reader.locator("[data-testid=tab-mail][data-news=true]").wait_for(timeout=WAIT_MS)
    await _tab(reader, "mail")
    row = reader.locator(f"[data-testid=mail-{mail_id}][data-read=false]")
    await row.get_by_text("Mailer: Pelts for you").wait_for(timeout=WAIT_MS)
    assert await reader.get_by_test_id("tab-mail").get_attribute("data-news") == "false"
    await reader.get_by_test_id(f"mail-read-{mail_id}").click()
    shown = reader.get_by_test_id("mail-letter")
    await shown.get_by_text(f"Wolf Pelt {TIMES} 3").wait_for(timeout=WAIT_MS)
    assert "120 money" in await shown.inner_text()
    assert (
        "Three pelts\nand some coin."
        in await reader.get_by_test_id("mail-letter-body").inner_text()
    )
    await reader.screenshot(path=str(screenshots / "mail.png"))
    await reader.get_by_test_id("mail-take").click()
    await _until(
        reader,
        "s.inventory.money === 120 && s.inventory.items.some((i) => i.item_id === arg)",
        pelts,
    )
    owner = await _fetchrow(
        cluster,
        "SELECT i.owner_character_id, i.mail_id, c.money FROM characters.items i"
        " JOIN characters.characters c ON c.character_id = $2 WHERE i.item_id = $1",
        pelts,
        reader_id,
    )
    assert owner is not None
    assert (owner["owner_character_id"], owner["mail_id"], owner["money"]) == (reader_id, None, 120)

    # Emptied, the letter may go: after the page's confirmation.
    await reader.get_by_test_id("mail-delete").click()
    await _confirm(reader, "Delete the letter")
    await reader.locator(f"[data-testid=mail-{mail_id}]").wait_for(
        state="detached", timeout=WAIT_MS
    )
    assert await _fetchrow(cluster, "SELECT 1 FROM social.mail WHERE mail_id = $1", mail_id) is None
    await _tab(reader, "play")
    assert (
        await reader.get_by_test_id("inventory-list").get_by_text(f"Wolf Pelt {TIMES} 3").count()
        == 1
    )
    await _fits_the_window(reader)  # a letter read, an item, notes: still no scroll
    # The two refusals were the page's own; the server refused nothing.
    assert [e["code"] for e in (await _state(mailer))["errors"]] == ["INVALID_INPUT"] * 2
    assert (await _state(reader))["errors"] == []
    # A long error log scrolls inside its own panel, the notice shows the last one:
    # every tab still fits.
    await _tab(mailer, "who")
    for _ in range(15):
        await mailer.get_by_test_id("who-search").click()
    await _until(mailer, "s.errors.length === 17")
    await _fits_the_window(mailer)
    assert errors == []


@pytest.mark.timeout(150)
async def test_a_trade_face_to_face_and_a_guild_run_from_the_page(
    browser: Browser, cluster, screenshots: Path
) -> None:
    """Giver (a Scout's Hood) and Payer (300 money) stand 4 yards apart. Giver clicks
    Payer and opens a trade: both see the window; Giver offers the hood, Payer 250
    money; each sees the other's offer, both accept, and each inventory (and the
    database) shows the swap. Then Giver founds a guild and Payer joins; Payer, an
    initiate, is offered no controls; Giver promotes Payer, sets the message of the
    day (both pages show it) and kicks Payer, each after the confirm dialog."""
    errors: list[str] = []
    giver = await _new_page(browser, errors)
    payer = await _new_page(browser, errors)
    await _create_character(giver, cluster.login_url, "webtrade_giver", "Giver")
    await _create_character(payer, cluster.login_url, "webtrade_payer", "Payer")
    hood = await _grant(cluster, "Giver", SCOUTS_HOOD, 1, 0)
    await _grant(cluster, "Payer", WOLF_PELT, 1, 300)
    await _place(cluster, "Giver", *MEETING)
    await _place(cluster, "Payer", MEETING[0] + 4.0, MEETING[1])
    giver_id = await _enter(giver, "Giver")
    payer_id = await _enter(payer, "Payer")

    # Giver clicks Payer on the map, then Trade.
    sees = "s.entities.some((e) => e.id === arg && e.name === 'Payer')"
    await _until(giver, sees, payer_id)
    at = await giver.evaluate("(id) => window.realmkit.screenOf(id)", payer_id)
    await giver.mouse.click(at["x"], at["y"])
    await _until(giver, "s.target === arg", payer_id)
    await giver.get_by_test_id("trade-open").click()
    for page, other in ((giver, "Payer"), (payer, "Giver")):
        window = page.get_by_test_id("trade-window")
        await window.wait_for(timeout=WAIT_MS)
        assert await page.get_by_test_id("trade-partner").inner_text() == other
    await giver.get_by_test_id(f"trade-item-{hood}").check()
    await giver.get_by_test_id("trade-offer").click()
    await (
        payer.get_by_test_id("trade-theirs")
        .get_by_text(f"Scout's Hood {TIMES} 1")
        .wait_for(timeout=WAIT_MS)
    )
    await payer.get_by_test_id("trade-money").fill("250")
    await payer.get_by_test_id("trade-offer").click()
    await giver.get_by_test_id("trade-theirs").get_by_text("250 money").wait_for(timeout=WAIT_MS)
    await _until(
        payer, "s.social.trade.mine.money === 250 && s.social.trade.theirs.items.length === 1"
    )
    await giver.screenshot(path=str(screenshots / "trade.png"))
    await giver.get_by_test_id("trade-accept").click()
    await (
        payer.get_by_test_id("trade-theirs-accepted")
        .get_by_text("accepted")
        .wait_for(timeout=WAIT_MS)
    )
    await payer.get_by_test_id("trade-accept").click()
    for page in (giver, payer):
        await page.locator("[data-testid=trade-window][data-state=committed]").wait_for(
            timeout=WAIT_MS
        )
    await _until(
        giver,
        "s.inventory.money === 250 && !s.inventory.items.some((i) => i.item_id === arg)",
        hood,
    )
    await _until(
        payer,
        "s.inventory.money === 50 && s.inventory.items.some((i) => i.item_id === arg)",
        hood,
    )
    await (
        payer.get_by_test_id("inventory-list")
        .get_by_text(f"Scout's Hood {TIMES} 1")
        .wait_for(timeout=WAIT_MS)
    )
    moved = await _fetchrow(
        cluster,
        "SELECT owner_character_id, (SELECT money FROM characters.characters"
        " WHERE character_id = $2) AS giver_money FROM characters.items WHERE item_id = $1",
        hood,
        giver_id,
    )
    assert moved is not None
    assert (moved["owner_character_id"], moved["giver_money"]) == (payer_id, 250)
    for page in (giver, payer):
        await page.get_by_test_id("trade-close").click()
        await page.get_by_test_id("trade-window").wait_for(state="hidden", timeout=WAIT_MS)
    # Another trade, called off by Payer: both windows say so, nothing moves.
    await giver.get_by_test_id("trade-open").click()
    await payer.get_by_test_id("trade-window").wait_for(timeout=WAIT_MS)
    await payer.get_by_test_id("trade-cancel").click()
    for page in (giver, payer):
        called_off = page.locator("[data-testid=trade-window][data-state=cancelled]")
        await called_off.get_by_text("called off (cancelled)").wait_for(timeout=WAIT_MS)
        await page.get_by_test_id("trade-close").click()
    await _until(giver, "s.inventory.money === 250 && s.social.trade === null")

    # A guild: founded by Giver, joined by Payer (an initiate: no controls).
    for page in (giver, payer):
        await _tab(page, "guild")
    await giver.get_by_test_id("guild-create-name").fill("Trade Winds")
    await giver.get_by_test_id("guild-create").click()
    await giver.get_by_test_id("guild-disband").wait_for(timeout=WAIT_MS)  # the leader's
    await giver.get_by_test_id("guild-invite-name").fill("Payer")
    await giver.get_by_test_id("guild-invite").click()
    await payer.get_by_test_id("guild-accept").click(timeout=WAIT_MS)
    await giver.locator("[data-testid=guild-member-Payer][data-rank='3']").wait_for(timeout=WAIT_MS)
    await payer.get_by_test_id("guild-member-Giver").wait_for(timeout=WAIT_MS)
    assert await payer.get_by_test_id("guild-kick-Giver").count() == 0
    assert await payer.get_by_test_id("guild-motd-text").is_hidden()
    assert await payer.get_by_test_id("guild-invite-name").is_hidden()
    assert await payer.get_by_test_id("guild-disband").is_hidden()

    await giver.get_by_test_id("guild-promote-Payer").click()
    await _confirm(giver, "Promote Payer to member?")
    for page in (giver, payer):
        await page.locator("[data-testid=guild-member-Payer][data-rank='2']").wait_for(
            timeout=WAIT_MS
        )
    rank = await _fetchrow(
        cluster, "SELECT rank FROM social.guild_members WHERE character_id = $1", payer_id
    )
    assert rank is not None
    assert rank["rank"] == 2

    await giver.get_by_test_id("guild-motd-text").fill("Fair prices, fast feet.")
    await giver.get_by_test_id("guild-motd-set").click()
    await _confirm(giver, "Set the message of the day")
    for page in (giver, payer):
        await (
            page.get_by_test_id("guild-motd")
            .get_by_text("Fair prices, fast feet.")
            .wait_for(timeout=WAIT_MS)
        )

    await giver.get_by_test_id("guild-kick-Payer").click()
    await _confirm(giver, "Put Payer out of the guild?")
    await giver.get_by_test_id("guild-member-Payer").wait_for(state="detached", timeout=WAIT_MS)
    await _until(payer, "s.social.guild.guild_id === 0")
    await payer.get_by_test_id("guild-create-name").wait_for(timeout=WAIT_MS)
    gone = await _fetchrow(
        cluster, "SELECT 1 FROM social.guild_members WHERE character_id = $1", payer_id
    )
    assert gone is None
    await giver.screenshot(path=str(screenshots / "guild.png"))
    for page in (giver, payer):
        assert (await _state(page))["errors"] == []
    assert errors == []
