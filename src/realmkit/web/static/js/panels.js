// The side panel's tabs and the social panels of the page: the chat box with its
// channel tabs, the party, queues and the match proposal dialog, friends, realm
// channels, who, the guild and its controls, mail, the trade window and the
// confirm dialog. They read the game's Social (social.js) and call its methods;
// main.js redraws them on the game's `changed` callbacks.

import { describeError } from "./errors.js";
import { guildPowers, LEADER, MAX_ATTACHMENTS, OFFICER, SEND_CHANNELS } from "./social.js";

const $ = (id) => document.getElementById(id);

export const ui = {
  tab: "all", // the chat tab shown: all, a channel, or system
  side: "play", // the side panel's tab shown
  mailView: "inbox", // the mail tab shows the inbox, a letter or the compose form
  dismissed: null, // the error last dismissed from the side notice (or shown on entering)
  sentSeen: 0, // letters sent whose compose form was cleared
  confirmed: null, // what the confirm dialog does on Yes
  noticeTimer: null, // hides the side notice once it has been shown NOTICE_MS
  queueTimer: null, // drops ended queue tickets from the panel once they are old
};

// How long the side notice shows an error (the Play tab's Errors list keeps them all).
export const NOTICE_MS = 8000;
// Ended queue tickets (left, cancelled, done) listed: the last few, for a while.
const ENDED_KEPT = 3;
const ENDED_MS = 30_000;

// Which side tab shows each kind of news (Social.news).
const NEWS_TAB = { party: "social", friends: "social", guild: "guild", mail: "mail", trade: "play", queue: "queues" };
export const SIDE_TABS = ["play", "social", "who", "guild", "mail", "queues"];

/** A list item of ``text`` (the page's lists are built of these). */
export function item(text, testid) {
  const li = document.createElement("li");
  li.textContent = text;
  if (testid) li.dataset.testid = testid;
  return li;
}

/** A button that calls ``onclick``, with its test id. */
export function button(text, testid, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.testid = testid;
  b.addEventListener("click", onclick);
  return b;
}

function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** How a chat line reads: time, [channel], who to whom, text. */
export function chatText(c) {
  let who = c.from ? `${c.from}: ` : "";
  if (c.channel === "whisper") who = c.to ? `To ${c.to}: ` : `From ${c.from}: `;
  return `${clock(c.at)} [${c.channel || c.kind}] ${who}${c.text}`;
}

function mapName(game, mapId) {
  if (mapId === undefined || mapId < 0) return "";
  const map = game.content.map(mapId);
  return map && map.name ? map.name : `map ${mapId}`;
}

// --- chat ---------------------------------------------------------------------------

function tabs(game) {
  return ["all", ...SEND_CHANNELS, ...game.social.realmChannels(), "system"];
}

export function renderChatTabs(game) {
  const box = $("chat-tabs");
  const names = tabs(game);
  if (!names.includes(ui.tab)) ui.tab = "all";
  box.replaceChildren(
    ...names.map((name) => {
      const b = button(name, `chat-tab-${name}`, () => selectTab(game, name));
      b.setAttribute("role", "tab");
      b.setAttribute("aria-selected", String(name === ui.tab));
      b.classList.toggle("selected", name === ui.tab);
      return b;
    }),
  );
  const select = $("chat-channel");
  const current = select.value || "say";
  const sendable = [...SEND_CHANNELS, ...game.social.channels];
  select.replaceChildren(
    ...sendable.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  select.value = sendable.includes(current) ? current : "say";
  renderChannelChoice();
}

function selectTab(game, name) {
  ui.tab = name;
  const select = $("chat-channel");
  if ([...select.options].some((o) => o.value === name)) select.value = name;
  renderChatTabs(game);
  renderChat(game);
}

function renderChannelChoice() {
  const whisper = $("chat-channel").value === "whisper";
  $("whisper-to").hidden = !whisper;
}

export function renderChat(game) {
  const log = $("chat-log");
  const shown = game.chat.filter((c) => ui.tab === "all" || (c.channel || c.kind) === ui.tab);
  log.replaceChildren(
    ...shown.map((c) => {
      const li = item(chatText(c), "chat-line");
      li.dataset.channel = c.channel || c.kind;
      li.className = `chat-${c.channel || c.kind}`;
      return li;
    }),
  );
  log.scrollTop = log.scrollHeight;
}

// --- party ---------------------------------------------------------------------------

export function renderParty(game) {
  const { party, invitation } = game.social;
  $("party-invitation").hidden = !invitation;
  $("party-invitation-text").textContent = invitation ? `${invitation.inviter} invites you into a party.` : "";
  const list = $("party-members");
  list.replaceChildren(
    ...party.members.map((m) => {
      const lead = m.character_id === party.leader_id ? " (leader)" : "";
      // Name-Realm for a member of another realm of the pool.
      const said = m.realm && m.realm !== game.realmName ? `${m.name}-${m.realm}` : m.name;
      const li = item(`${said} — level ${m.level}${lead}`, `party-member-${m.name}`);
      if (lead) li.classList.add("leader");
      return li;
    }),
  );
  if (party.members.length === 0) list.append(item("Not in a party.", "party-none"));
  $("party-leave").hidden = party.party_id === 0;
}

// --- side tabs, notice, confirm ------------------------------------------------------

/** Show side tab `name`; its news counts as seen. */
export function selectSide(game, name) {
  ui.side = SIDE_TABS.includes(name) ? name : "play";
  if (game) {
    if (ui.side === "mail") game.social.mailList();
    if (ui.side === "guild") game.social.guildRoster();
  }
  renderSideTabs(game);
}

export function renderSideTabs(game) {
  const news = game ? game.social.news : new Set();
  for (const kind of [...news]) if (NEWS_TAB[kind] === ui.side) news.delete(kind);
  for (const name of SIDE_TABS) {
    const b = $(`tab-${name}`);
    const shown = name === ui.side;
    const marked = [...news].some((kind) => NEWS_TAB[kind] === name);
    b.classList.toggle("selected", shown);
    b.classList.toggle("news", marked);
    b.setAttribute("aria-selected", String(shown));
    b.dataset.news = String(marked);
    b.title = marked ? "news" : "";
  }
  for (const page of document.querySelectorAll("#side .tab-page")) page.hidden = page.dataset.page !== ui.side;
}

/**
 * The last error not dismissed, above the tabs (seen whichever tab is shown), for
 * NOTICE_MS after it came: then it goes by itself (× dismisses it sooner).
 */
export function renderNotice(game, now = Date.now()) {
  const errors = game.errors;
  const newest = errors.length ? errors[errors.length - 1] : null;
  const left = newest ? (newest.at || now) + NOTICE_MS - now : 0;
  const last = newest !== ui.dismissed && left > 0 ? newest : null;
  $("side-notice").hidden = !last;
  $("side-notice-text").textContent = last ? describeError(last) : "";
  if (last) $("side-notice").dataset.code = last.code;
  clearTimeout(ui.noticeTimer);
  ui.noticeTimer = last ? setTimeout(() => renderNotice(game), left) : null;
}

/** Ask before `action` runs, in the page's own dialog. */
export function confirmThen(text, action) {
  ui.confirmed = action;
  $("confirm-text").textContent = text;
  $("confirm-dialog").hidden = false;
  $("confirm-no").focus();
}

function closeConfirm(yes) {
  const action = ui.confirmed;
  ui.confirmed = null;
  $("confirm-dialog").hidden = true;
  if (yes && action) action();
}

// --- guild ---------------------------------------------------------------------------

const RANKS = ["leader", "officer", "member", "initiate"];

export function renderGuild(game) {
  const { guild, guildInvitation } = game.social;
  const inGuild = guild.guild_id !== 0;
  $("guild-invitation").hidden = !guildInvitation;
  $("guild-invitation-text").textContent = guildInvitation
    ? `${guildInvitation.inviter} invites you into ${guildInvitation.guild}.`
    : "";
  $("guild-name").textContent = inGuild ? guild.name : "";
  $("guild-motd").textContent = inGuild && guild.motd ? guild.motd : "";
  const social = game.social;
  const mine = social.guildRank();
  const me = game.character.character_id;
  $("guild-members").replaceChildren(
    ...guild.members.map((m) => {
      const li = item(`${m.name} — ${RANKS[m.rank] || m.rank}, level ${m.level} `, `guild-member-${m.name}`);
      li.dataset.online = String(m.online);
      li.dataset.rank = String(m.rank);
      li.classList.toggle("offline", !m.online);
      if (mine !== null && m.character_id !== me) {
        const may = guildPowers(mine, m.rank);
        const ask = (action, text) => () =>
          confirmThen(text, () => social.guildAct(action, m.name));
        if (may.promote) {
          const to = RANKS[m.rank - 1];
          li.append(button("Promote", `guild-promote-${m.name}`, ask("promote", `Promote ${m.name} to ${to}?`)));
        }
        if (may.demote) {
          const to = RANKS[m.rank + 1];
          li.append(button("Demote", `guild-demote-${m.name}`, ask("demote", `Demote ${m.name} to ${to}?`)));
        }
        if (may.kick) li.append(button("Kick", `guild-kick-${m.name}`, ask("kick", `Put ${m.name} out of the guild?`)));
      }
      return li;
    }),
  );
  const officer = mine !== null && mine <= OFFICER;
  $("guild-create-form").hidden = inGuild;
  $("guild-invite-form").hidden = !officer;
  $("guild-motd-form").hidden = !officer;
  $("guild-motd-text").placeholder = inGuild && guild.motd ? `Now: ${guild.motd}` : "Message of the day";
  $("guild-leave").hidden = !inGuild;
  $("guild-disband").hidden = mine !== LEADER;
}

// --- queues --------------------------------------------------------------------------

const STATE_TEXT = {
  queued: "queued",
  proposed: "match found",
  accepted: "accepted, waiting for the others",
  in_match: "in the match",
  done: "done",
  cancelled: "cancelled",
  none: "not queued",
};

const LIVE = new Set(["queued", "proposed", "accepted", "in_match"]);

/** The tickets to list: every live one, and the last ENDED_KEPT ended ones of the last ENDED_MS. */
export function shownQueues(queues, now = Date.now()) {
  const all = Object.values(queues);
  const ended = all
    .filter((q) => !LIVE.has(q.state) && now - (q.since || 0) < ENDED_MS)
    .sort((a, b) => (b.since || 0) - (a.since || 0))
    .slice(0, ENDED_KEPT);
  return all.filter((q) => LIVE.has(q.state) || ended.includes(q));
}

export function renderQueues(game, now = Date.now()) {
  const social = game.social;
  const list = $("queue-status-list");
  const shown = shownQueues(social.queues, now);
  // Redrawn when the next ended ticket is due to go.
  clearTimeout(ui.queueTimer);
  const due = shown.filter((q) => !LIVE.has(q.state)).map((q) => (q.since || 0) + ENDED_MS - now);
  ui.queueTimer = due.length ? setTimeout(() => renderQueues(game), Math.max(0, Math.min(...due)) + 50) : null;
  list.replaceChildren(
    ...shown.map((q) => {
      let text = `${q.activity}: ${STATE_TEXT[q.state] || q.state}`;
      if (q.state === "queued") {
        if (q.position) text += `, #${q.position}`;
        if (q.estimated_wait) text += `, about ${Math.round(q.estimated_wait)} s`;
      }
      const li = item(text, `queue-status-${q.activity}`);
      li.dataset.state = q.state;
      if (q.state === "queued" || q.state === "proposed" || q.state === "accepted") {
        li.append(" ", button("Leave", `queue-leave-${q.activity}`, () => social.queueLeave(q.activity)));
      }
      return li;
    }),
  );
  $("match-results").replaceChildren(
    ...social.results.map((r) => {
      const rating = r.rating ? ` — rating ${r.rating} (${r.rating_change >= 0 ? "+" : ""}${r.rating_change})` : "";
      const li = item(`Match ${r.match_id}, ${r.activity}: ${r.outcome}${rating}`, "match-result");
      li.dataset.outcome = r.outcome;
      return li;
    }),
  );
  renderProposal(game);
}

export function renderProposal(game) {
  const p = game.social.proposal;
  $("match-proposal").hidden = !p;
  if (!p) return;
  const role = p.role ? `, as ${p.role}` : "";
  const answered = p.answered ? ` You ${p.answered}.` : "";
  $("match-proposal-text").textContent = `${p.activity}: team ${p.team}${role}.${answered}`;
  $("match-countdown").textContent = String(Math.ceil(game.social.proposalLeft()));
  $("match-accept").disabled = Boolean(p.answered);
  $("match-decline").disabled = Boolean(p.answered);
}

function renderRoles() {
  $("queue-roles").hidden = $("queue-activity").value !== "dungeon";
  // None ticked: the server takes the player in any role.
  const ticked = ["tank", "healer", "damage"].filter((r) => $(`queue-role-${r}`).checked);
  $("queue-roles-note").textContent = ticked.length ? `as ${ticked.join(" or ")}` : "any role";
}

// --- friends and channels ------------------------------------------------------------------

export function renderFriends(game) {
  const social = game.social;
  $("friend-requests").replaceChildren(
    ...social.requests.map((name) => {
      // Name-Realm as the server names it; a name of your own realm without it.
      const said = name.endsWith(`-${game.realmName}`) ? name.slice(0, -game.realmName.length - 1) : name;
      const li = item(`${said} asks to be your friend `, `friend-request-${name}`);
      li.append(
        button("Accept", `friend-accept-${name}`, () => social.friendAnswer(name, true)),
        button("Decline", `friend-decline-${name}`, () => social.friendAnswer(name, false)),
      );
      return li;
    }),
  );
  const own = game.realmName;
  $("friend-list").replaceChildren(
    ...social.friends.map((f) => {
      const name = f.realm && f.realm !== own ? `${f.name}-${f.realm}` : f.name;
      const where = f.online ? `online${mapName(game, f.map_id) ? `, ${mapName(game, f.map_id)}` : ""}` : "offline";
      const li = item(`${name} — level ${f.level}, ${where} `, `friend-${name}`);
      li.dataset.online = String(f.online);
      li.classList.toggle("offline", !f.online);
      li.append(button("Remove", `friend-remove-${name}`, () => social.friendRemove(name)));
      return li;
    }),
  );
  if (social.friends.length === 0) $("friend-list").append(item("No friends yet.", "friends-none"));
  $("ignore-list").replaceChildren(
    ...social.ignored.map((name) => {
      const li = item(`ignored: ${name} `, `ignored-${name}`);
      li.append(button("Unignore", `unignore-${name}`, () => social.unignore(name)));
      return li;
    }),
  );
}

export function renderChannels(game) {
  const social = game.social;
  $("channel-list").replaceChildren(
    ...social.channels.map((name) => {
      const li = item(`${name} `, `channel-${name}`);
      li.append(button("Leave", `channel-leave-${name}`, () => social.leave(name)));
      return li;
    }),
  );
  if (social.channels.length === 0) $("channel-list").append(item("In no realm channel.", "channels-none"));
  renderChatTabs(game);
}

// --- who ----------------------------------------------------------------------------

export function renderWho(game) {
  const list = $("who-results");
  list.replaceChildren(
    ...game.social.who.map((p) => {
      const where = mapName(game, p.map_id);
      const li = item(`${p.name} — level ${p.level}${where ? `, ${where}` : ""}`, `who-result-${p.name}`);
      li.dataset.level = String(p.level);
      li.dataset.map = String(p.map_id);
      return li;
    }),
  );
  if (game.social.who.length === 0) list.append(item("Nobody found (yet).", "who-none"));
}

function fillWhoMaps(game) {
  const select = $("who-map");
  const options = [[-1, "any map"], ...[...game.content.maps.values()].map((m) => [m.id, m.name || `map ${m.id}`])];
  select.replaceChildren(
    ...options.map(([id, name]) => {
      const option = document.createElement("option");
      option.value = String(id);
      option.textContent = name;
      return option;
    }),
  );
}

// --- inventory pickers (mail, trade) ---------------------------------------------------

/** Checkboxes of the inventory's items in `list`, those of `checked` (ids) ticked. */
function renderPicker(game, list, prefix, checked) {
  const { inventory, content } = game;
  list.replaceChildren(
    ...inventory.items.map((it) => {
      const li = document.createElement("li");
      const label = document.createElement("label");
      label.className = "inline";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = String(it.item_id);
      box.checked = checked.has(it.item_id);
      box.dataset.testid = `${prefix}-${it.item_id}`;
      box.dataset.template = String(it.template_id);
      label.append(box, ` ${content.itemName(it.template_id)} × ${it.count}`);
      li.append(label);
      return li;
    }),
  );
  if (inventory.items.length === 0) list.append(item("(no items)"));
}

function picked(list) {
  return [...list.querySelectorAll("input[type=checkbox]:checked")].map((b) => Number(b.value));
}

function itemLines(game, items, testid) {
  return items.map((it) => item(`${game.content.itemName(it.template_id)} × ${it.stack_count}`, testid));
}

// --- mail ----------------------------------------------------------------------------

function showMail(view) {
  ui.mailView = view;
  $("mail-inbox").hidden = view !== "inbox";
  $("mail-letter").hidden = view !== "letter";
  $("mail-compose-form").hidden = view !== "compose";
}

function expiry(seconds) {
  if (seconds < 0) return "";
  // Rounded up: a letter of a 30-day mailbox sent a moment ago has 30 d left.
  const days = Math.ceil(seconds / 86400);
  return seconds >= 86400 ? `, ${days} d left` : `, ${Math.ceil(seconds / 3600)} h left`;
}

export function renderMail(game) {
  const social = game.social;
  const { mails } = social.mailbox;
  const unread = mails.filter((e) => !e.read).length;
  $("mail-unread").textContent = unread ? `(${unread} unread)` : "";
  const list = $("mail-list");
  list.replaceChildren(
    ...mails.map((e) => {
      const holds = [e.items ? `${e.items} item${e.items > 1 ? "s" : ""}` : "", e.money ? `${e.money} money` : ""]
        .filter(Boolean)
        .join(", ");
      const from = e.returned ? `${e.sender} (returned)` : e.sender;
      const li = item(`${from}: ${e.subject}${holds ? ` [${holds}]` : ""}${e.read ? "" : expiry(e.expires_in)} `, `mail-${e.mail_id}`);
      li.dataset.read = String(e.read);
      li.dataset.subject = e.subject;
      li.classList.toggle("unread", !e.read);
      li.append(button("Read", `mail-read-${e.mail_id}`, () => {
        social.mailRead(e.mail_id);
        showMail("letter");
      }));
      return li;
    }),
  );
  if (mails.length === 0) list.append(item(social.mailbox.known ? "No letters." : "…", "mail-none"));
  const letter = social.letter;
  if (!letter && ui.mailView === "letter") showMail("inbox");
  if (letter) {
    const entry = mails.find((e) => e.mail_id === letter.mail_id);
    $("mail-letter").dataset.mailId = String(letter.mail_id);
    $("mail-letter-head").textContent = `From ${letter.sender}${letter.returned ? " (returned)" : ""}: ${letter.subject}`;
    $("mail-letter-body").textContent = letter.body;
    const holds = entry ? entry.items > 0 || entry.money > 0 : false;
    const lines = holds ? itemLines(game, letter.items, "mail-letter-item") : [];
    if (holds && letter.money) lines.push(item(`${letter.money} money`, "mail-letter-money"));
    $("mail-letter-items").replaceChildren(...lines);
    $("mail-take").hidden = !holds;
    $("mail-delete").hidden = holds;
  }
  $("mail-send").disabled = Boolean(social.sending);
}

function renderMailPicker(game) {
  renderPicker(game, $("mail-items"), "mail-item", new Set(picked($("mail-items"))));
}

function clearCompose() {
  for (const id of ["mail-to", "mail-subject", "mail-body"]) $(id).value = "";
  $("mail-money").value = "0";
  for (const box of $("mail-items").querySelectorAll("input")) box.checked = false;
}

// --- trade ---------------------------------------------------------------------------

const TRADE_STATE = { open: "open: make your offer", committed: "done: the items and money moved", cancelled: "called off" };

/** Whether `side` of a trade offers nothing: no item, no money. */
const offersNothing = (side) => (side.items || []).length === 0 && !side.money;

/** How an open trade stands, in plain words (no protocol states or versions). */
function openTradeText(trade) {
  if (trade.mine.accepted && trade.theirs.accepted) return "both accepted: the trade is being made";
  if (trade.mine.accepted) return "you accepted: waiting for the other side";
  if (trade.theirs.accepted) return "the other side accepted: accept to trade, or change your offer";
  return TRADE_STATE.open;
}

export function renderTrade(game) {
  const trade = game.social.trade;
  $("trade-window").hidden = !trade;
  if (!trade) return;
  const open = trade.state === "open";
  $("trade-window").dataset.state = trade.state;
  $("trade-partner").textContent = trade.partner;
  $("trade-theirs-name").textContent = trade.partner;
  let state = TRADE_STATE[trade.state] || trade.state;
  if (trade.state === "cancelled" && trade.reason) state += ` (${trade.reason})`;
  if (open) state = openTradeText(trade);
  $("trade-state").textContent = state;
  const side = (s, testid) => {
    const lines = itemLines(game, s.items || [], `${testid}-item`);
    if (s.money) lines.push(item(`${s.money} money`, `${testid}-money`));
    if (lines.length === 0) lines.push(item("nothing yet"));
    return lines;
  };
  $("trade-mine").replaceChildren(...side(trade.mine, "trade-mine"));
  $("trade-theirs").replaceChildren(...side(trade.theirs, "trade-theirs"));
  $("trade-mine-accepted").textContent = trade.mine.accepted ? "(accepted)" : "";
  $("trade-theirs-accepted").textContent = trade.theirs.accepted ? "(accepted)" : "";
  $("trade-offer-form").hidden = !open;
  $("trade-accept").hidden = !open;
  // A trade of nothing for nothing is not offered to accept (the server would make it).
  const empty = offersNothing(trade.mine) && offersNothing(trade.theirs);
  $("trade-accept").disabled = trade.mine.accepted || empty;
  $("trade-empty-note").hidden = !open || !empty;
  $("trade-cancel").hidden = !open;
  $("trade-close").hidden = open;
}

function renderTradePicker(game) {
  renderPicker(game, $("trade-items"), "trade-item", new Set(picked($("trade-items"))));
}

/** The Trade button: enabled with a player (not oneself) targeted. */
function renderTradeButton(game) {
  const e = game.target ? game.table.entities.get(game.target) : null;
  const player = Boolean(e && e.kind === 1 && e.id !== game.character.character_id);
  $("trade-open").disabled = !player || game.social.tradeIsOpen();
}

// --- redrawing -------------------------------------------------------------------------

/** Redraw what `what` (a Game `changed` name) touches of the panels here. */
export function changed(game, what) {
  if (what === "who") renderWho(game);
  if (what === "mail") renderMail(game);
  if (what === "trade") {
    renderTrade(game);
    renderTradeButton(game);
  }
  if (what === "inventory") {
    renderMailPicker(game);
    renderTradePicker(game);
  }
  if (what === "errors") renderNotice(game);
  if (what === "target" || what === "frame") renderTradeButton(game);
  if (what === "mail" && ui.mailView === "compose" && game.social.sent > ui.sentSeen) {
    clearCompose();
    showMail("inbox");
  }
  ui.sentSeen = game.social.sent;
  if (what !== "frame") renderSideTabs(game);
}

export function renderSocial(game) {
  fillWhoMaps(game);
  ui.dismissed = game.errors.length ? game.errors[game.errors.length - 1] : null;
  ui.sentSeen = game.social.sent;
  renderSideTabs(game);
  renderNotice(game);
  renderWho(game);
  renderMail(game);
  renderMailPicker(game);
  renderTrade(game);
  renderTradePicker(game);
  renderTradeButton(game);
  renderChatTabs(game);
  renderChat(game);
  renderParty(game);
  renderGuild(game);
  renderQueues(game);
  renderFriends(game);
  renderChannels(game);
}

// --- wiring --------------------------------------------------------------------------

/** Wire the panels' forms and buttons once; `current()` is the game entered, or null. */
export function wireSocial(current) {
  const social = () => {
    const game = current();
    return game ? game.social : null;
  };
  $("chat-channel").addEventListener("change", () => {
    renderChannelChoice();
    const game = current();
    if (game && ui.tab !== "all") selectTab(game, $("chat-channel").value);
  });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    // A line refused in the page stays in the box, to be mended.
    if (s && !s.chat($("chat-input").value, $("chat-channel").value, $("whisper-to").value)) return;
    $("chat-input").value = "";
    $("world").focus();
  });
  $("party-invite-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    if (s && s.partyInvite($("party-invite-name").value.trim())) $("party-invite-name").value = "";
  });
  $("party-accept").addEventListener("click", () => social() && social().partyAnswer(true));
  $("party-decline").addEventListener("click", () => social() && social().partyAnswer(false));
  $("party-leave").addEventListener("click", () => social() && social().partyLeave());
  $("guild-create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    if (s && s.guildCreate($("guild-create-name").value.trim())) $("guild-create-name").value = "";
  });
  $("guild-invite-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    if (s && s.guildInvite($("guild-invite-name").value.trim())) $("guild-invite-name").value = "";
  });
  $("guild-accept").addEventListener("click", () => social() && social().guildAnswer(true));
  $("guild-decline").addEventListener("click", () => social() && social().guildAnswer(false));
  $("guild-leave").addEventListener("click", () =>
    confirmThen("Leave the guild?", () => social() && social().guildLeave()),
  );
  $("guild-disband").addEventListener("click", () =>
    confirmThen("Disband the guild? Every member is put out of it.", () => social() && social().guildDisband()),
  );
  $("guild-motd-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("guild-motd-text").value;
    confirmThen(`Set the message of the day to “${text}”?`, () => {
      const s = social();
      if (s && s.guildMotd(text)) $("guild-motd-text").value = "";
    });
  });
  $("confirm-yes").addEventListener("click", () => closeConfirm(true));
  $("confirm-no").addEventListener("click", () => closeConfirm(false));
  for (const name of SIDE_TABS) $(`tab-${name}`).addEventListener("click", () => selectSide(current(), name));
  $("side-notice-close").addEventListener("click", () => {
    const game = current();
    if (!game) return;
    ui.dismissed = game.errors.length ? game.errors[game.errors.length - 1] : null;
    renderNotice(game);
  });
  $("who-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    const level = (id) => Number($(id).value.trim() || NaN);
    if (s) s.whoSearch($("who-name").value.trim(), level("who-level-min"), level("who-level-max"), Number($("who-map").value));
  });
  $("mail-compose").addEventListener("click", () => showMail("compose"));
  $("mail-compose-cancel").addEventListener("click", () => showMail("inbox"));
  $("mail-back").addEventListener("click", () => showMail("inbox"));
  $("mail-refresh").addEventListener("click", () => social() && social().mailList());
  $("mail-take").addEventListener("click", () => {
    const s = social();
    if (s && s.letter) s.mailTake(s.letter.mail_id);
  });
  $("mail-delete").addEventListener("click", () => {
    const s = social();
    if (!s || !s.letter) return;
    const { mail_id: mailId, subject } = s.letter;
    confirmThen(`Delete the letter “${subject}”?`, () => s.mailDelete(mailId));
  });
  $("mail-compose-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    const items = picked($("mail-items"));
    if (!s) return;
    if (items.length > MAX_ATTACHMENTS) {
      s.refuse("items", `at most ${MAX_ATTACHMENTS} items`);
      return;
    }
    s.mailSend({
      to: $("mail-to").value.trim(),
      subject: $("mail-subject").value,
      body: $("mail-body").value,
      money: $("mail-money").value,
      items,
    });
    renderMail(current());
  });
  $("trade-open").addEventListener("click", () => {
    const game = current();
    if (game && game.target) game.social.tradeOpen(game.nameOf(game.target));
  });
  $("trade-offer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    if (s) s.tradeOffer(picked($("trade-items")), $("trade-money").value);
  });
  $("trade-accept").addEventListener("click", () => social() && social().tradeAccept());
  $("trade-cancel").addEventListener("click", () => social() && social().tradeCancel());
  $("trade-close").addEventListener("click", () => {
    const s = social();
    if (s) s.tradeClose();
    $("trade-money").value = "0";
    for (const box of $("trade-items").querySelectorAll("input")) box.checked = false;
  });
  $("queue-activity").addEventListener("change", renderRoles);
  for (const role of ["tank", "healer", "damage"]) $(`queue-role-${role}`).addEventListener("change", renderRoles);
  $("queue-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const roles = ["tank", "healer", "damage"].filter((r) => $(`queue-role-${r}`).checked);
    const s = social();
    if (s) s.queueJoin($("queue-activity").value, roles);
  });
  $("match-accept").addEventListener("click", () => social() && social().answerProposal(true));
  $("match-decline").addEventListener("click", () => social() && social().answerProposal(false));
  $("friend-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    if (s && s.friendAdd($("friend-name").value.trim())) $("friend-name").value = "";
  });
  $("ignore-add").addEventListener("click", () => {
    const s = social();
    if (s && s.ignore($("friend-name").value.trim())) $("friend-name").value = "";
  });
  $("channel-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const s = social();
    if (s && s.join($("channel-name").value.trim(), $("channel-password").value)) {
      $("channel-name").value = "";
      $("channel-password").value = "";
    }
  });
  // The proposal's countdown ticks while it is shown.
  setInterval(() => {
    const game = current();
    if (game && game.social.proposal) renderProposal(game);
  }, 250);
  renderRoles();
}
