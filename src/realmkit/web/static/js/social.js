// The social side of a game session, without the DOM: chat channels and
// whispers, friends and presence, who, guilds, mail, trades, the party, queues
// and match proposals (protocol/social.py, protocol/client.py). The Game hands it the messages it
// does not handle itself; the panels (panels.js) call its methods.

export const REALM_CHANNELS = ["general", "trade", "lfg"];
// Channels a chat line can be sent to, besides the realm channels joined.
export const SEND_CHANNELS = ["say", "yell", "whisper", "party", "guild"];
export const ACTIVITIES = ["battleground", "arena2v2", "arena3v3", "dungeon"];
export const ROLES = ["tank", "healer", "damage"];
// protocol/social.py's patterns.
const CHANNEL_NAME = /^[a-z][a-z0-9]{1,19}$/;
const TARGET = /^[A-Za-z]{2,12}(-[A-Za-z0-9][A-Za-z0-9 ]{0,31})?$/;
const GUILD_NAME = /^[A-Za-z][A-Za-z ]{2,23}$/;
const WHO_NAME = /^[A-Za-z]{0,12}$/;
// Guild ranks (social/guild.py): a lower number outranks a higher one.
export const LEADER = 0;
export const OFFICER = 1;
export const INITIATE = 3;
export const MAX_ATTACHMENTS = 12;
export const MAX_MONEY = 10 ** 12;
const MAX_SUBJECT = 64;
const MAX_BODY = 1000;
const MAX_MOTD = 255;
const MAX_TEXT = 255;
const SEEN_KEPT = 2000;
const RESULTS_KEPT = 20;

const clone = (value) => JSON.parse(JSON.stringify(value));

// What a player writes outside chat (social/chat.py check_written): printable
// characters (line breaks too where `lines`), not only spaces unless `blank`.
function writtenProblem(text, { lines = false, blank = false } = {}) {
  const checked = lines ? text.replaceAll("\n", "") : text;
  if (/[\p{C}]/u.test(checked)) return "printable characters only";
  if (!blank && !text.trim()) return "not blank";
  return "";
}

/** A whole amount of money in 0..`most` from a field's text; null when it is not. */
export function parseMoney(text, most = MAX_MONEY) {
  const t = String(text).trim();
  if (t === "") return 0;
  if (!/^\d{1,13}$/.test(t)) return null;
  const n = Number(t);
  return n <= most ? n : null;
}

/**
 * What `actor` (a guild rank) may do to a member of rank `target` (social/guild.py
 * rules 2 and 3): {promote, demote, kick}.
 */
export function guildPowers(actor, target) {
  const officer = actor <= OFFICER;
  const below = target > actor;
  return {
    promote: officer && below && target - 1 > actor,
    demote: officer && below && target < INITIATE,
    kick: officer && below,
  };
}

export class Social {
  /**
   * @param {object} game the Game: its send(), error(), note(), changed() and chat log
   */
  constructor(game) {
    this.game = game;
    this.lastChatId = 0;
    this.seen = new Set(); // chat_message ids already shown (a resume sends each once)
    this.seenOrder = [];
    this.channels = []; // realm channels joined
    this.friends = []; // {name, realm, level, online, map_id}
    this.requests = []; // names asking to be friends
    this.ignored = [];
    this.party = { party_id: 0, leader_id: 0, members: [] };
    this.invitation = null; // {party_id, inviter, expires_in, deadline}
    this.guild = { guild_id: 0, name: "", motd: "", members: [] };
    this.guildInvitation = null;
    this.who = [];
    this.mailbox = { mails: [], money: 0, known: false };
    this.letter = null; // the letter read last (mail)
    this.sending = null; // the mail_send waiting for its reply: {to, subject}
    this.sent = 0; // letters the gateway took
    this.opening = ""; // the name a trade_open went to (its window is no news)
    this.trade = null; // the trade window (trade), until closed by the player
    // News not looked at yet, by kind: party, friends, guild, mail, trade, queue.
    this.news = new Set();
    this.queues = {}; // activity -> queue_status
    this.proposal = null; // {match_id, activity, accept_within, team, role, deadline}
    this.results = [];
  }

  // --- news from the gateway ---------------------------------------------------

  /** Handle `m` if it is a social, party or queue message; false if not one. */
  receive(m) {
    switch (m.t) {
      case "chat_message":
        this.onChatMessage(m);
        return true;
      case "channels":
        this.channels = (m.joined || []).slice();
        this.game.changed("channels");
        return true;
      case "friends":
        this.friends = (m.friends || []).map((f) => ({ ...f }));
        this.requests = (m.requests || []).slice();
        this.ignored = (m.ignored || []).slice();
        this.game.changed("friends");
        return true;
      case "friend_request":
        if (!this.requests.includes(m.name)) this.requests.push(m.name);
        this.news.add("friends");
        this.game.note(`${m.name} asks to be your friend`);
        this.game.changed("friends");
        return true;
      case "presence":
        this.onPresence(m);
        return true;
      case "who_result":
        this.who = (m.players || []).map((p) => ({ ...p }));
        this.game.changed("who");
        return true;
      case "guild":
        this.guild = { guild_id: m.guild_id || 0, name: m.name || "", motd: m.motd || "", members: m.members || [] };
        this.game.changed("guild");
        return true;
      case "guild_invitation":
        this.guildInvitation = { guild_id: m.guild_id, guild: m.guild, inviter: m.inviter };
        this.news.add("guild");
        this.game.note(`${m.inviter} invites you into the guild ${m.guild}`);
        this.game.changed("guild");
        return true;
      case "party":
        this.party = { party_id: m.party_id || 0, leader_id: m.leader_id || 0, members: m.members || [] };
        if (this.invitation && this.invitation.party_id === this.party.party_id) this.invitation = null;
        this.game.changed("party");
        return true;
      case "party_invitation":
        this.invitation = {
          party_id: m.party_id,
          inviter: m.inviter,
          expires_in: m.expires_in,
          deadline: Date.now() + m.expires_in * 1000,
        };
        this.news.add("party");
        this.game.note(`${m.inviter} invites you into a party`);
        this.game.changed("party");
        return true;
      case "queue_status":
        this.onQueueStatus(m);
        return true;
      case "match_proposal":
        this.proposal = {
          match_id: m.match_id,
          activity: m.activity,
          accept_within: m.accept_within,
          team: m.team,
          role: m.role || "",
          deadline: Date.now() + m.accept_within * 1000,
          answered: "",
        };
        this.ticketIs(m.activity, "proposed");
        this.game.changed("queue");
        return true;
      case "match_result":
        this.onMatchResult(m);
        return true;
      case "mailbox":
        this.onMailbox(m);
        return true;
      case "mail": {
        this.letter = { ...m, items: (m.items || []).map((i) => ({ ...i })) };
        // Opened, the letter is read: the inbox (and its unread count) says so at once.
        const entry = this.mailbox.mails.find((e) => e.mail_id === m.mail_id);
        if (entry) entry.read = true;
        this.game.changed("mail");
        return true;
      }
      case "mail_arrived":
        this.news.add("mail");
        this.game.note(`a letter from ${m.sender}: ${m.subject}`);
        this.mailList();
        return true;
      case "trade":
        this.onTrade(m);
        return true;
      default:
        return false;
    }
  }

  onChatMessage(m) {
    const id = m.id || 0;
    if (id && this.seen.has(id)) return; // already shown (a resume's history)
    if (id) {
      this.seen.add(id);
      this.seenOrder.push(id);
      if (this.seenOrder.length > SEEN_KEPT) this.seen.delete(this.seenOrder.shift());
      this.lastChatId = Math.max(this.lastChatId, id);
    }
    this.game.addChat({
      id,
      at: m.at || Date.now(),
      kind: m.channel,
      channel: m.channel,
      from: m.sender,
      to: m.to || "",
      text: m.text,
    });
  }

  onPresence(m) {
    const friend = this.friends.find((f) => f.name === m.name && f.realm === m.realm);
    if (friend) {
      friend.online = m.online;
      friend.map_id = m.online ? m.map_id : -1;
    }
    const mate = this.guild.members.find((g) => g.name === m.name);
    if (mate) mate.online = m.online;
    this.game.changed("friends");
  }

  onQueueStatus(m) {
    const before = this.queues[m.activity];
    this.queues[m.activity] = {
      // Since when the ticket is in this state (the panel lists ended ones for a while).
      since: before && before.state === m.state ? before.since : Date.now(),
      activity: m.activity,
      state: m.state,
      ticket_id: m.ticket_id || 0,
      position: m.position || 0,
      estimated_wait: m.estimated_wait || 0,
    };
    const p = this.proposal;
    if (p && p.activity === m.activity && !["proposed", "accepted"].includes(m.state)) this.proposal = null;
    this.game.changed("queue");
  }

  onMatchResult(m) {
    this.results.push({ ...m });
    if (this.results.length > RESULTS_KEPT) this.results.shift();
    if (this.proposal && this.proposal.match_id === m.match_id) this.proposal = null;
    this.news.add("queue");
    const change = m.rating ? ` (rating ${m.rating}, ${m.rating_change >= 0 ? "+" : ""}${m.rating_change})` : "";
    this.game.note(`match ${m.match_id}, ${m.activity}: ${m.outcome}${change}`);
    // Called off, the ticket may be queued again (unless declined): ask where it stands.
    this.ask({ t: "queue_status", activity: m.activity });
    this.game.changed("queue");
  }

  onMailbox(m) {
    this.mailbox = { mails: (m.mails || []).map((e) => ({ ...e })), money: m.money || 0, known: true };
    if (this.sending) {
      this.game.note(`letter sent to ${this.sending.to}: ${this.sending.subject}`);
      this.sending = null;
      this.sent += 1;
    }
    if (this.letter && !this.mailbox.mails.some((e) => e.mail_id === this.letter.mail_id)) this.letter = null;
    if (this.mailbox.mails.some((e) => !e.read)) this.news.add("mail");
    // Sending, taking: items and money moved; the inventory is asked again.
    this.game.askInventory();
    this.game.changed("mail");
  }

  onTrade(m) {
    const before = this.trade;
    const fresh = !before || before.trade_id !== m.trade_id;
    this.trade = { ...m, mine: { ...m.mine }, theirs: { ...m.theirs } };
    if (m.state === "open" && fresh && !(this.opening && this.opening === m.partner)) {
      this.news.add("trade");
      this.game.note(`${m.partner} opens a trade with you`);
    }
    if (fresh) this.opening = "";
    if (m.state === "committed") {
      this.game.note(`trade with ${m.partner} done`);
      this.game.askInventory();
    } else if (m.state === "cancelled") {
      this.game.note(`trade with ${m.partner} called off: ${m.reason || "cancelled"}`);
      this.game.askInventory();
    }
    this.game.changed("trade");
  }

  /** The gateway refused something (error): a letter waiting for its reply was not sent. */
  refused() {
    if (this.sending) {
      this.sending = null;
      this.game.changed("mail");
    }
  }

  /** The ticket for `activity` moved on (a proposal, an answer) before its news came. */
  ticketIs(activity, state) {
    const q = this.queues[activity];
    if (q) this.queues[activity] = { ...q, state, since: Date.now() };
  }

  // --- asking ------------------------------------------------------------------

  /** Send `m`, or say why not (a refused field, as the gateway would). */
  ask(m) {
    if (!this.game.send(m)) this.game.error("DISCONNECTED", `not sent (${m.t}): not connected`);
  }

  refuse(field, why) {
    this.game.error("INVALID_INPUT", `${field}: ${why}`, true);
    return false;
  }

  /**
   * A chat line typed in the box, to `channel` (say, yell, whisper, party, guild or a
   * realm channel) or as a command: /s, /y, /w Name text, /p, /g, /join name
   * [password], /leave name, /<channel> text. True when something was sent.
   */
  chat(line, channel = "say", whisperTo = "") {
    const text = line.trim();
    if (!text) return false;
    if (text.startsWith("/")) {
      const [command, ...rest] = text.slice(1).split(/\s+/);
      const args = rest.join(" ");
      switch (command.toLowerCase()) {
        case "s":
        case "say":
          return this.say(args, false);
        case "y":
        case "yell":
          return this.say(args, true);
        case "w":
        case "whisper":
        case "t":
        case "tell": {
          const [to, ...words] = rest;
          return this.whisper(to || "", words.join(" "));
        }
        case "p":
        case "party":
          return this.send("party", args);
        case "g":
        case "guild":
          return this.send("guild", args);
        case "join":
          return this.join(rest[0] || "", rest.slice(1).join(" "));
        case "leave":
          return this.leave(rest[0] || "");
        default: {
          // /channel text: only to a realm channel joined (the server would answer NOT_IN_CHANNEL).
          const channel = command.toLowerCase();
          if (!this.channels.includes(channel)) {
            return this.refuse(
              "chat",
              `unknown command /${command} (try /w, /p, /g, /join, /leave, or a channel you joined)`,
            );
          }
          return this.send(channel, args);
        }
      }
    }
    if (channel === "say" || channel === "yell") return this.say(text, channel === "yell");
    if (channel === "whisper") return this.whisper(whisperTo.trim(), text);
    return this.send(channel, text);
  }

  /** Why a chat text cannot go as it is ("" when it can); nothing is cut short. */
  textProblem(text) {
    return text.length > MAX_TEXT ? `at most ${MAX_TEXT} characters (this is ${text.length})` : "";
  }

  say(text, yell) {
    if (!text.trim()) return false;
    if (this.textProblem(text)) return this.refuse("chat", this.textProblem(text));
    this.ask({ t: "say", text, yell });
    return true;
  }

  whisper(to, text) {
    if (!TARGET.test(to)) return this.refuse("whisper", "a name, or Name-Realm for another realm");
    if (!text.trim()) return false;
    if (this.textProblem(text)) return this.refuse("chat", this.textProblem(text));
    this.ask({ t: "whisper", to, text });
    return true;
  }

  send(channel, text) {
    if (!CHANNEL_NAME.test(channel)) return this.refuse("channel", `no channel ${channel}`);
    if (!text.trim()) return false;
    if (this.textProblem(text)) return this.refuse("chat", this.textProblem(text));
    this.ask({ t: "chat_send", channel, text });
    return true;
  }

  join(channel, password = "") {
    if (!CHANNEL_NAME.test(channel)) return this.refuse("channel", "2 to 20 lowercase letters or digits");
    this.ask({ t: "channel_join", channel, password: password.slice(0, 64) });
    return true;
  }

  leave(channel) {
    if (!CHANNEL_NAME.test(channel)) return this.refuse("channel", `no channel ${channel}`);
    this.ask({ t: "channel_leave", channel });
    return true;
  }

  friendAdd(name) {
    if (!TARGET.test(name)) return this.refuse("friend", "a name, or Name-Realm for another realm");
    this.ask({ t: "friend_add", name });
    return true;
  }

  friendAnswer(name, accept) {
    this.requests = this.requests.filter((r) => r !== name);
    this.ask({ t: "friend_answer", name, accept });
    this.game.changed("friends");
  }

  friendRemove(name) {
    this.ask({ t: "friend_remove", name });
  }

  friendList() {
    this.ask({ t: "friend_list" });
  }

  ignore(name) {
    if (!TARGET.test(name)) return this.refuse("ignore", "a name, or Name-Realm for another realm");
    this.ask({ t: "ignore", name });
    return true;
  }

  unignore(name) {
    this.ask({ t: "unignore", name });
  }

  partyInvite(name) {
    if (!TARGET.test(name)) return this.refuse("party", "a name, or Name-Realm for another realm of the pool");
    this.ask({ t: "party_invite", name });
    return true;
  }

  partyAnswer(accept) {
    const invitation = this.invitation;
    if (!invitation) return;
    this.invitation = null;
    this.ask({ t: accept ? "party_accept" : "party_decline", party_id: invitation.party_id });
    this.game.changed("party");
  }

  partyLeave() {
    this.ask({ t: "party_leave" });
  }

  guildCreate(name) {
    if (!GUILD_NAME.test(name) || name !== name.trimEnd() || name.includes("  ")) return this.refuse("guild", "3 to 24 letters or spaces");
    this.ask({ t: "guild_create", name });
    return true;
  }

  guildInvite(name) {
    if (!TARGET.test(name)) return this.refuse("guild", "the name of a character");
    const [own, realm] = name.split("-");
    // Name-Realm: a guild is of one realm (the server would answer NOT_FOUND).
    if (realm !== undefined && realm.toLowerCase() !== String(this.game.realmName || "").toLowerCase()) {
      return this.refuse("guild", "a guild is of one realm: invite a character of your realm");
    }
    this.ask({ t: "guild_invite", name: own });
    return true;
  }

  guildLeave() {
    this.ask({ t: "guild_leave" });
  }

  guildRoster() {
    this.ask({ t: "guild_roster" });
  }

  /** The own rank in the guild (null: in none). */
  guildRank() {
    const me = this.guild.members.find((g) => g.character_id === this.game.character.character_id);
    return me ? me.rank : null;
  }

  /** promote, demote or kick `name` (a member); refused here when the rank does not allow. */
  guildAct(action, name) {
    const member = this.guild.members.find((g) => g.name === name);
    const mine = this.guildRank();
    if (!member || mine === null) return this.refuse("guild", `${name} is not in your guild`);
    if (!guildPowers(mine, member.rank)[action]) return this.refuse("guild", `your rank may not ${action} ${name}`);
    this.ask({ t: `guild_${action}`, name });
    return true;
  }

  guildMotd(text) {
    if (text.length > MAX_MOTD) return this.refuse("message of the day", `at most ${MAX_MOTD} characters`);
    const problem = writtenProblem(text, { blank: true });
    if (problem) return this.refuse("message of the day", problem);
    const mine = this.guildRank();
    if (mine === null || mine > OFFICER) return this.refuse("message of the day", "officers and the leader set it");
    this.ask({ t: "guild_motd", text });
    return true;
  }

  guildDisband() {
    if (this.guildRank() !== LEADER) return this.refuse("guild", "only the leader disbands the guild");
    this.ask({ t: "guild_disband" });
    return true;
  }

  // --- who -----------------------------------------------------------------------

  /** Who is online in the realm: name prefix, levels, map (-1: any). */
  whoSearch(name = "", levelMin = 1, levelMax = 255, mapId = -1) {
    if (!WHO_NAME.test(name)) return this.refuse("who", "the start of a name: up to 12 letters");
    const level = (n) => Number.isInteger(n) && n >= 1 && n <= 255;
    if (!level(levelMin) || !level(levelMax)) return this.refuse("who", "levels from 1 to 255");
    if (levelMin > levelMax) return this.refuse("who", "the lowest level above the highest");
    if (!Number.isInteger(mapId) || mapId < -1) return this.refuse("who", "no such map");
    this.ask({ t: "who", name, level_min: levelMin, level_max: levelMax, map_id: mapId });
    return true;
  }

  // --- mail ----------------------------------------------------------------------

  mailList() {
    this.ask({ t: "mail_list" });
  }

  mailRead(mailId) {
    this.ask({ t: "mail_read", mail_id: mailId });
  }

  mailTake(mailId) {
    this.ask({ t: "mail_take", mail_id: mailId });
  }

  mailDelete(mailId) {
    const entry = this.mailbox.mails.find((e) => e.mail_id === mailId);
    if (entry && (entry.items > 0 || entry.money > 0)) {
      return this.refuse("mail", "take its items and money before deleting it");
    }
    this.ask({ t: "mail_delete", mail_id: mailId });
    return true;
  }

  /** Send a letter: {to, subject, body, money (text or number), items (item ids)}. */
  mailSend({ to, subject, body = "", money = 0, items = [] }) {
    if (this.sending) return this.refuse("mail", "the last letter is still on its way");
    if (!TARGET.test(to)) return this.refuse("to", "a name (2 to 12 letters), or Name-Realm for another realm");
    if (to === this.game.character.name) return this.refuse("to", "not yourself");
    if (subject.length < 1 || subject.length > MAX_SUBJECT) return this.refuse("subject", `1 to ${MAX_SUBJECT} characters`);
    const subjectProblem = writtenProblem(subject);
    if (subjectProblem) return this.refuse("subject", subjectProblem);
    if (body.length > MAX_BODY) return this.refuse("body", `at most ${MAX_BODY} characters`);
    const bodyProblem = writtenProblem(body, { lines: true, blank: true });
    if (bodyProblem) return this.refuse("body", bodyProblem);
    const amount = this.given(money, items);
    if (amount === null) return false;
    this.sending = { to, subject };
    this.ask({ t: "mail_send", to, subject, body, items, money: amount });
    return true;
  }

  /** The money given with `items` (a letter's, an offer's), or null once refused (said why). */
  given(money, items) {
    const amount = parseMoney(money);
    const purse = this.game.inventory;
    const problem = this.itemsProblem(items);
    let refused = null;
    if (amount === null) refused = ["money", "a whole amount from 0"];
    else if (purse.fromServer && amount > purse.money) refused = ["money", `you hold ${purse.money}`];
    else if (problem) refused = ["items", problem];
    if (refused === null) return amount;
    this.refuse(...refused);
    return null;
  }

  /** Why `items` (ids) cannot be given: too many, or not in the inventory ("" if they can). */
  itemsProblem(items) {
    if (items.length > MAX_ATTACHMENTS) return `at most ${MAX_ATTACHMENTS} items`;
    const owned = new Set(this.game.inventory.items.map((i) => i.item_id));
    if (items.some((id) => !owned.has(id))) return "only items of your inventory";
    return "";
  }

  // --- trades --------------------------------------------------------------------

  tradeOpen(name) {
    if (!TARGET.test(name)) return this.refuse("trade", "select a player to trade with");
    if (name === this.game.character.name) return this.refuse("trade", "not with yourself");
    this.opening = name;
    this.ask({ t: "trade_open", name });
    return true;
  }

  tradeOffer(items, money) {
    if (!this.tradeIsOpen()) return this.refuse("trade", "no open trade");
    const amount = this.given(money, items);
    if (amount === null) return false;
    this.ask({ t: "trade_offer", items, money: amount });
    return true;
  }

  tradeAccept() {
    if (!this.tradeIsOpen()) return this.refuse("trade", "no open trade");
    const nothing = (side) => (side.items || []).length === 0 && !side.money;
    if (nothing(this.trade.mine) && nothing(this.trade.theirs)) return this.refuse("trade", "nothing offered yet");
    this.ask({ t: "trade_accept", version: this.trade.version });
    return true;
  }

  tradeCancel() {
    if (!this.tradeIsOpen()) return false;
    this.ask({ t: "trade_cancel" });
    return true;
  }

  /** The player closes a finished trade's window. */
  tradeClose() {
    if (this.tradeIsOpen()) return;
    this.trade = null;
    this.game.changed("trade");
  }

  tradeIsOpen() {
    return Boolean(this.trade && this.trade.state === "open");
  }

  guildAnswer(accept) {
    const invitation = this.guildInvitation;
    if (!invitation) return;
    this.guildInvitation = null;
    this.ask({ t: "guild_answer", guild_id: invitation.guild_id, accept });
    this.game.changed("guild");
  }

  queueJoin(activity, roles = []) {
    if (!ACTIVITIES.includes(activity)) return this.refuse("activity", `one of ${ACTIVITIES.join(", ")}`);
    const wanted = activity === "dungeon" ? roles.filter((r) => ROLES.includes(r)) : [];
    this.ask({ t: "queue_join", activity, roles: wanted });
    return true;
  }

  queueLeave(activity) {
    this.ask({ t: "queue_leave", activity });
  }

  answerProposal(accept) {
    const p = this.proposal;
    if (!p || p.answered) return;
    p.answered = accept ? "accepted" : "declined";
    if (accept) this.ticketIs(p.activity, "accepted");
    this.ask({ t: accept ? "match_accept" : "match_decline", match_id: p.match_id });
    if (!accept) this.proposal = null;
    this.game.changed("queue");
  }

  // --- reading -----------------------------------------------------------------

  /** Seconds left to answer the proposal (0 when none or run out). */
  proposalLeft(now = Date.now()) {
    return this.proposal ? Math.max(0, (this.proposal.deadline - now) / 1000) : 0;
  }

  /** Realm channels to offer: the built-in ones and those joined. */
  realmChannels() {
    return [...new Set([...REALM_CHANNELS, ...this.channels])];
  }

  snapshot() {
    return clone({
      last_chat_id: this.lastChatId,
      channels: this.channels,
      friends: this.friends,
      requests: this.requests,
      ignored: this.ignored,
      party: this.party,
      invitation: this.invitation,
      guild: this.guild,
      guild_invitation: this.guildInvitation,
      who: this.who,
      mailbox: this.mailbox,
      letter: this.letter,
      sent: this.sent,
      trade: this.trade,
      news: [...this.news],
      queues: this.queues,
      proposal: this.proposal ? { ...this.proposal, left: this.proposalLeft() } : null,
      results: this.results,
    });
  }
}
