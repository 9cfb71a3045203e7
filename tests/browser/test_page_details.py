"""The page's small manners, in two browsers on a real cluster: the side notice goes
by itself; an unknown chat command and a guild invitation to another realm are
refused in the page, not sent; a trade of nothing cannot be accepted and says how
it stands in plain words; long unbroken text wraps in its box; a fresh letter has
30 days left and, opened, is no longer counted unread; the queue panel says "any
role" and lets ended tickets go; the operations page clears an action's last
answer and says itself that an announcement is empty."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page
from test_game import WAIT_MS, _create_character, _enter, _place, _state
from test_mail_and_trades import MEETING, WOLF_PELT, _grant, _new_page, _until
from test_ops_page import _log_in
from test_social_panels import _chat, _queue_state, _sees_line, _tab

from realmkit import operators
from realmkit.store.postgres import Database

OPERATOR = ("gm_pagedetails", "another operator's long password")
# How long the side notice shows an error (panels.js NOTICE_MS).
# An ended queue ticket stays listed this long (panels.js), and a margin.
ENDED_WAIT_MS = 45_000


async def _overflows(page: Page, testid: str) -> dict[str, Any]:
    """The width of the element ``testid``'s content and of its box, and the page's."""
    sizes: dict[str, Any] = await page.evaluate(
        """(id) => { const el = document.querySelector(`[data-testid=${id}]`);
            return { content: el.scrollWidth, box: el.clientWidth,
                     page: document.scrollingElement.scrollWidth, window: window.innerWidth }; }""",
        testid,
    )
    return sizes


async def _fits(page: Page, testid: str) -> None:
    sizes = await _overflows(page, testid)
    assert sizes["content"] <= sizes["box"], (testid, sizes)
    assert sizes["page"] <= sizes["window"], (testid, sizes)


async def _error_codes(page: Page) -> list[str]:
    return [e["code"] for e in (await _state(page))["errors"]]


@pytest.mark.timeout(180)
async def test_the_page_refuses_in_itself_what_the_server_would_and_says_it_plainly(
    browser: Browser, cluster
) -> None:
    """Teller and Taker (10 money) stand 4 yards apart. Teller's left battleground
    ticket is listed, then goes from the panel by itself. `/foo bar` is refused in
    the page, the notice saying so goes by itself (the Errors list keeps it), and
    nothing reached the server. A 255-letter word wraps in the chat log. In a trade
    neither side can accept while both offer nothing; then the window says who
    accepted, no protocol words. A guild invitation to Taker-Elsewhere is refused in
    the page; to Taker it goes. Taker's letter with a long subject and body has 30 d
    left, is counted unread until opened, and wraps in its box. The dungeon queue
    with no role ticked says "any role"."""
    errors: list[str] = []
    teller = await _new_page(browser, errors)
    taker = await _new_page(browser, errors)
    await _create_character(teller, cluster.login_url, "webdetails_teller", "Teller")
    await _create_character(taker, cluster.login_url, "webdetails_taker", "Taker")
    await _grant(cluster, "Taker", WOLF_PELT, 1, 10)
    await _place(cluster, "Teller", *MEETING)
    await _place(cluster, "Taker", MEETING[0] + 4.0, MEETING[1])
    await _enter(teller, "Teller")
    taker_id = await _enter(taker, "Taker")

    # A battleground ticket taken and left: listed as ended (it goes later, by itself).
    await _tab(teller, "queues")
    await teller.get_by_test_id("queue-activity").select_option("battleground")
    await teller.get_by_test_id("queue-join").click()
    await _queue_state(teller, "battleground", "queued")
    await teller.get_by_test_id("queue-leave-battleground").click()
    ended = teller.locator("[data-testid=queue-status-battleground]:not([data-state=queued])")
    await ended.wait_for(timeout=WAIT_MS)
    # The dungeon queue, no role ticked: any role.
    await teller.get_by_test_id("queue-activity").select_option("dungeon")
    note = teller.get_by_test_id("queue-roles-note")
    assert await note.inner_text() == "any role"
    await teller.get_by_test_id("queue-role-healer").check()
    assert await note.inner_text() == "as healer"
    await teller.get_by_test_id("queue-role-healer").uncheck()
    assert await note.inner_text() == "any role"
    await _tab(teller, "play")

    # An unknown command: refused in the page, said in the notice, which then goes.
    await _chat(teller, "say", "/foo bar")
    notice = teller.get_by_test_id("side-notice")
    await notice.get_by_text("unknown command /foo (try /w, /p, /g, /join, /leave").wait_for(
        timeout=WAIT_MS
    )
    assert await notice.is_visible()  # shown, not gone at once
    await notice.wait_for(state="hidden", timeout=WAIT_MS)
    assert await teller.get_by_test_id("error-log").get_by_text("unknown command /foo").count() == 1
    # The next line said goes after it: had /foo been sent, its error would be in first.
    long_word = "x" * 255
    await _chat(teller, "say", long_word)
    await _sees_line(teller, long_word)
    assert await _error_codes(teller) == ["INVALID_INPUT"]
    await _fits(teller, "chat-log")
    # One character more is refused in the page, not cut: the line stays to be mended.
    await _chat(teller, "say", long_word + "y")
    await (
        teller.get_by_test_id("side-notice")
        .get_by_text("Not sent: chat: at most 255 characters (this is 256).")
        .wait_for(timeout=WAIT_MS)
    )
    assert await teller.get_by_test_id("chat-input").input_value() == long_word + "y"
    await teller.get_by_test_id("chat-input").fill("")
    # The own level and health are in the status line over the map.
    assert "level 1 health 100%" in await teller.get_by_test_id("coords").inner_text()

    # A trade: nothing offered on either side, neither may accept.
    sees = "s.entities.some((e) => e.id === arg && e.name === 'Taker')"
    await _until(teller, sees, taker_id)
    at = await teller.evaluate("(id) => window.realmkit.screenOf(id)", taker_id)
    await teller.mouse.click(at["x"], at["y"])
    await _until(teller, "s.target === arg", taker_id)
    await teller.get_by_test_id("trade-open").click()
    for page in (teller, taker):
        await page.get_by_test_id("trade-window").wait_for(timeout=WAIT_MS)
        state = await page.get_by_test_id("trade-state").inner_text()
        assert state == "open: make your offer"
        assert await page.get_by_test_id("trade-accept").is_disabled()
        assert await page.get_by_test_id("trade-empty-note").inner_text() == "nothing offered yet"
    await taker.get_by_test_id("trade-money").fill("10")
    await taker.get_by_test_id("trade-offer").click()
    await teller.get_by_test_id("trade-theirs").get_by_text("10 money").wait_for(timeout=WAIT_MS)
    await teller.get_by_test_id("trade-empty-note").wait_for(state="hidden", timeout=WAIT_MS)
    await teller.get_by_test_id("trade-accept").click()
    await (
        taker.get_by_test_id("trade-state")
        .get_by_text("the other side accepted")
        .wait_for(timeout=WAIT_MS)
    )
    await teller.get_by_test_id("trade-state").get_by_text("you accepted").wait_for(timeout=WAIT_MS)
    for page in (teller, taker):
        assert "version" not in await page.get_by_test_id("trade-window").inner_text()
    await taker.get_by_test_id("trade-cancel").click()
    for page in (teller, taker):
        await page.locator("[data-testid=trade-window][data-state=cancelled]").wait_for(
            timeout=WAIT_MS
        )
        await page.get_by_test_id("trade-close").click()

    # A guild of Teller's: inviting Name-Realm of another realm is refused in the page.
    await _tab(teller, "guild")
    await teller.get_by_test_id("guild-create-name").fill("Page Details")
    await teller.get_by_test_id("guild-create").click()
    await teller.get_by_test_id("guild-disband").wait_for(timeout=WAIT_MS)
    await teller.get_by_test_id("guild-invite-name").fill("Taker-Elsewhere")
    await teller.get_by_test_id("guild-invite").click()
    await notice.get_by_text("a guild is of one realm: invite a character of your realm").wait_for(
        timeout=WAIT_MS
    )
    assert await teller.get_by_test_id("guild-invite-name").input_value() == "Taker-Elsewhere"
    await teller.get_by_test_id("guild-invite-name").fill("Taker")
    await teller.get_by_test_id("guild-invite").click()
    await _until(
        taker, "s.social.guild_invitation && s.social.guild_invitation.inviter === 'Teller'"
    )
    assert await _error_codes(teller) == ["INVALID_INPUT"] * 3  # /foo, the long line, the realm

    # A letter with a long unbroken subject and body: 30 days left, unread until opened.
    subject = "S" * 64
    body = "b" * 1000
    await _tab(teller, "mail")
    await teller.get_by_test_id("mail-compose").click()
    await teller.get_by_test_id("mail-to").fill("Taker")
    await teller.get_by_test_id("mail-subject").fill(subject)
    await teller.get_by_test_id("mail-body").fill(body)
    await teller.get_by_test_id("mail-send").click()
    await _until(teller, "s.social.sent === 1")
    await _tab(taker, "mail")
    row = taker.locator("[data-testid^=mail-][data-read=false]").filter(has_text=subject)
    await row.get_by_text("30 d left").wait_for(timeout=WAIT_MS)
    assert await taker.get_by_test_id("mail-unread").inner_text() == "(1 unread)"
    await _fits(taker, "mail-list")
    await row.get_by_role("button", name="Read").click()
    await taker.get_by_test_id("mail-letter-body").get_by_text(body).wait_for(timeout=WAIT_MS)
    await taker.wait_for_function(
        "() => document.querySelector('[data-testid=mail-unread]').textContent === ''",
        timeout=WAIT_MS,
    )
    for testid in ("mail-letter-head", "mail-letter-body", "tab-page-mail"):
        await _fits(taker, testid)

    # The ended battleground ticket has left the queue panel by itself.
    await _tab(teller, "queues")
    await teller.get_by_test_id("queue-status-battleground").wait_for(
        state="detached", timeout=ENDED_WAIT_MS
    )
    assert await _error_codes(taker) == []
    assert errors == []


async def test_the_queue_panel_keeps_live_tickets_and_the_last_few_ended_ones(
    browser: Browser, cluster
) -> None:
    """panels.js's choice of tickets to list, in the page: every live one; of the
    ended ones (left, cancelled, done) the 3 newest of the last 30 s."""
    page = await browser.new_page()
    await page.goto(cluster.login_url + "/")
    shown = await page.evaluate(
        """async () => {
            const { shownQueues } = await import("/static/js/panels.js");
            const t = (activity, state, since) => ({ activity, state, since });
            const queues = {
                a: t("a", "queued", 0), b: t("b", "in_match", 0), c: t("c", "cancelled", 100000),
                d: t("d", "done", 99000), e: t("e", "none", 98000), f: t("f", "cancelled", 97000),
            };
            const names = (now) => shownQueues(queues, now).map((q) => q.activity).sort();
            return [names(100000), names(128500), names(130500), names(200000)];
        }"""
    )
    assert shown == [
        ["a", "b", "c", "d", "e"],  # f: beyond the 3 newest ended
        ["a", "b", "c", "d"],  # e, f: over 30 s ago
        ["a", "b"],
        ["a", "b"],
    ]
    await page.close()


async def test_the_ops_page_clears_its_last_answer_and_says_an_announcement_is_empty(
    browser: Browser, cluster
) -> None:
    """An announcement's answer ("0 players told") is cleared when the next action
    starts, even one then called off; an empty announcement is refused by the page
    with its own message in the result line (not the browser's tooltip), nothing
    sent."""
    db = await Database.connect(cluster.database_url, max_size=1)
    try:
        await operators.add(db, *OPERATOR)
    finally:
        await db.close()
    errors: list[str] = []
    ops = await _new_page(browser, errors)
    await _log_in(ops, cluster.login_url, *OPERATOR)
    await ops.get_by_test_id("dashboard").wait_for(timeout=WAIT_MS)
    await ops.locator("[data-testid=announce-realm] option").first.wait_for(
        state="attached", timeout=WAIT_MS
    )
    result = ops.get_by_test_id("action-result")

    await ops.get_by_test_id("announce-text").fill("Details are checked")
    await ops.get_by_test_id("announce-submit").click()
    await ops.get_by_test_id("confirm-yes").click(timeout=WAIT_MS)
    await (
        ops.locator("[data-testid=action-result][data-outcome=ok]")
        .get_by_text("told")
        .wait_for(timeout=WAIT_MS)
    )

    # Another action starts: the last answer goes, though this one is called off.
    await ops.get_by_test_id("status-submit").click()
    await ops.get_by_test_id("confirm").wait_for(timeout=WAIT_MS)
    assert await result.inner_text() == ""
    await ops.get_by_test_id("confirm-no").click()
    await ops.get_by_test_id("confirm").wait_for(state="hidden", timeout=WAIT_MS)
    assert await result.inner_text() == ""

    # An empty announcement: the page says so, no confirmation is asked, nothing sent.
    await ops.get_by_test_id("announce-text").fill("   ")
    await ops.get_by_test_id("announce-submit").click()
    await (
        ops.locator("[data-testid=action-result][data-outcome=error]")
        .get_by_text("announce: write the announcement first")
        .wait_for(timeout=WAIT_MS)
    )
    assert await ops.get_by_test_id("confirm").is_hidden()
    validity = await ops.evaluate(
        "() => document.querySelector('[data-testid=announce-form]').noValidate"
    )
    assert validity is True
    assert errors == []
    await ops.close()
