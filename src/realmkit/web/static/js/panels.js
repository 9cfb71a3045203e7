// The social panels of the page: the chat box with its channel tabs, the party,
// queues and the match proposal dialog, friends, realm channels. They read the
// game's Social (social.js) and call its methods; main.js redraws them on the
// game's `changed` callbacks.

import { SEND_CHANNELS } from "./social.js";

const $ = (id) => document.getElementById(id);

export const ui = {
  tab: "all", // the chat tab shown: all, a channel, or system
};

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
  $("guild-members").replaceChildren(
    ...guild.members.map((m) => {
      const li = item(`${m.name} — ${RANKS[m.rank] || m.rank}, level ${m.level}`, `guild-member-${m.name}`);
      li.dataset.online = String(m.online);
      li.classList.toggle("offline", !m.online);
      return li;
    }),
  );
  $("guild-create-form").hidden = inGuild;
  $("guild-invite-form").hidden = !inGuild;
  $("guild-leave").hidden = !inGuild;
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

export function renderQueues(game) {
  const social = game.social;
  const list = $("queue-status-list");
  list.replaceChildren(
    ...Object.values(social.queues).map((q) => {
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
}

// --- friends and channels ------------------------------------------------------------------

export function renderFriends(game) {
  const social = game.social;
  $("friend-requests").replaceChildren(
    ...social.requests.map((name) => {
      const li = item(`${name} asks to be your friend `, `friend-request-${name}`);
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

export function renderSocial(game) {
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
    if (s) s.chat($("chat-input").value, $("chat-channel").value, $("whisper-to").value);
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
  $("guild-leave").addEventListener("click", () => social() && social().guildLeave());
  $("queue-activity").addEventListener("change", renderRoles);
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
