// The game session in the browser, without the DOM: the gateway connection and
// its resume, the entity table, the own character's prediction and
// reconciliation, target, names, inventory and the logs the panels show. The UI
// (ui.js) calls its methods and redraws on its `changed` callbacks.

import { Connection, FINAL_CLOSES, PROTOCOL_VERSION } from "./net.js";
import { Social } from "./social.js";
import { EntityTable, KIND_PLAYER } from "./world.js";

export const MOVES_PER_SECOND = 10;
// The server refuses moves faster than the player's run speed (content pack
// `[player] run_speed`, 7 units/s in the shipped packs; sim/movement.py adds a
// 10% tolerance): the client runs a little under it.
export const DEFAULT_RUN_SPEED = 7.0;
export const SPEED_FACTOR = 0.9;
// Off by more than this from the server (world units), the prediction is redone.
export const RECONCILE_DISTANCE = 1.0;
// Attacking, the character walks up to its target: this close (melee reach is 5).
export const MELEE_APPROACH = 3.0;
const RESUME_PAUSES_MS = [250, 500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000];
// Tries at the gateway named (reconnect) or the same one before asking for another.
const RESUME_SAME_GATEWAY_TRIES = 2;
const NAMES_EVERY_MS = 500;
const NAMES_PER_ASK = 64;
const LOG_KEPT = 200;

function keep(list, entry) {
  list.push(entry);
  if (list.length > LOG_KEPT) list.shift();
}

/** Log `text` in `list`; the same text as the last entry counts it again ("× 3"). */
function keepNote(list, text) {
  const last = list[list.length - 1];
  if (last && last.kind === "note" && last.said === text) {
    last.times += 1;
    last.text = `${text} × ${last.times}`;
    return;
  }
  keep(list, { kind: "note", said: text, times: 1, text });
}

/** True when a BAD_MESSAGE says the gateway does not know message type `t`. */
function unknownType(message, t) {
  return typeof message === "string" && message.includes(`'${t}'`);
}

export class Game {
  constructor({ api, content, character, realmName, changed }) {
    this.api = api;
    this.content = content;
    this.character = character; // {character_id, name, realm_id, level}
    this.realmName = realmName || "";
    this.changed = changed || (() => {});
    this.conn = null;
    this.bytesBefore = 0; // received over the sockets this game closed
    this.frameBytes = 0; // of all it received, the frames' bytes
    this.gatewayUrl = "";
    this.reconnectUrl = "";
    this.resumeToken = "";
    this.status = "offline"; // connecting, entering, in_world, loading, resuming, closed
    this.world = null;
    this.table = new EntityTable();
    this.me = null; // predicted {x, y, z, o}
    this.seq = 0; // move numbering, kept across resumes and transfers
    this.pending = []; // moves not acked yet: {seq, x, y, z, o, dx, dy}
    this.lastSent = null;
    this.keys = new Set();
    this.moveTarget = null;
    this.target = 0;
    this.chasing = false;
    this.transfers = 0;
    this.names = new Map(); // character id -> {name, level}
    this.cooldowns = new Map(); // spell id -> when it may be cast again (performance.now())
    this.asked = new Set();
    this.namesSupported = null;
    this.inventory = { money: 0, items: [], fromServer: false };
    this.inventorySupported = null;
    this.chat = [];
    this.events = [];
    this.errors = [];
    this.loot = [];
    this.corrections = 0;
    this.resumes = 0;
    this.resumeTry = 0;
    this.dead = false;
    this.closeCode = 0;
    this.runSpeed = content.runSpeed || DEFAULT_RUN_SPEED;
    this.lastTick = 0;
    this.timers = [];
    this.names.set(character.character_id, { name: character.name, level: character.level });
    this.social = new Social(this);
  }

  /** The id of the last `chat_message` got: a resume asks for what came after it. */
  get lastChatId() {
    return this.social.lastChatId;
  }

  // --- connection ----------------------------------------------------------

  async enter() {
    const ticket = await this.api.ticket(this.character.character_id);
    this.gatewayUrl = ticket.gateway_url;
    this.status = "connecting";
    this.connect(this.gatewayUrl, { t: "hello", ticket: ticket.ticket, version: PROTOCOL_VERSION });
    this.timers.push(setInterval(() => this.sendMove(), 1000 / MOVES_PER_SECOND));
    this.timers.push(setInterval(() => this.askNames(), NAMES_EVERY_MS));
    this.changed("status");
  }

  connect(url, greeting) {
    if (this.conn) this.bytesBefore += this.conn.bytes;
    this.conn = new Connection(url, greeting, {
      onMessage: (m, size) => {
        if (m.t === "frame") this.frameBytes += size;
        this.receive(m);
      },
      onClose: (code, reason, byUs) => this.closed(code, reason, byUs),
    });
  }

  leave() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.status = "closed";
    if (this.conn) this.conn.close();
  }

  send(message) {
    return this.conn ? this.conn.send(message) : false;
  }

  closed(code, reason, byUs) {
    this.closeCode = code;
    if (byUs || this.status === "closed") return;
    if (FINAL_CLOSES.has(code) || !this.resumeToken) {
      this.status = "closed";
      this.error("DISCONNECTED", `the gateway closed the connection (${code} ${reason || ""})`);
      this.changed("status");
      return;
    }
    this.resumeLater();
  }

  resumeLater() {
    if (this.resumeTry >= RESUME_PAUSES_MS.length) {
      this.status = "closed";
      this.error("DISCONNECTED", "could not get back into the world; enter again");
      this.changed("status");
      return;
    }
    const pause = RESUME_PAUSES_MS[this.resumeTry];
    this.resumeTry += 1;
    this.status = "resuming";
    this.changed("status");
    setTimeout(() => this.resumeNow(), pause);
  }

  async resumeNow() {
    if (this.status !== "resuming") return;
    let url = this.reconnectUrl || this.gatewayUrl;
    if (this.resumeTry > RESUME_SAME_GATEWAY_TRIES) {
      // That gateway is gone for good, it seems: the login node names a live one
      // with a ticket (not used: the resume token brings the character back).
      try {
        url = (await this.api.ticket(this.character.character_id)).gateway_url;
      } catch (exc) {
        console.warn("no gateway from the login node", exc);
      }
      if (this.status !== "resuming") return;
    }
    this.connect(url, {
      t: "resume",
      token: this.resumeToken,
      version: PROTOCOL_VERSION,
      chat_after: this.lastChatId,
    });
  }

  // --- messages ------------------------------------------------------------

  receive(m) {
    switch (m.t) {
      case "frame":
        this.onFrame(m);
        break;
      case "new_world":
        this.onNewWorld(m);
        break;
      case "transfer_pending":
        this.status = "loading";
        this.loadingReason = m.reason;
        this.transfers += 1;
        this.changed("status");
        break;
      case "correct":
        this.onCorrect(m);
        break;
      case "reconnect":
        this.reconnectUrl = m.url || this.reconnectUrl;
        this.note(`the gateway is restarting: moving to ${m.url || "another gateway"}`);
        break;
      case "error":
        this.onError(m);
        break;
      case "chat": {
        const kind = m.yell ? "yell" : "say";
        this.addChat({ id: 0, at: Date.now(), kind, channel: kind, from: m.speaker_name, to: "", text: m.text });
        break;
      }
      case "announce":
        this.addChat({ id: 0, at: Date.now(), kind: "system", channel: "system", from: "", to: "", text: m.text });
        this.note(`announcement: ${m.text}`);
        break;
      case "loot":
        this.onLoot(m);
        break;
      case "died":
        this.onDied(m);
        break;
      case "rejected":
        this.note(`${m.action} refused: ${m.reason.replaceAll("_", " ")}`);
        break;
      case "portal":
        this.note("you step through a portal");
        break;
      case "names":
        this.namesSupported = true;
        for (const n of m.names || []) this.names.set(n.id, { name: n.name, level: n.level });
        this.changed("names");
        break;
      case "inventory":
        this.inventorySupported = true;
        this.inventory = { money: m.money || 0, items: m.items || [], fromServer: true };
        this.changed("inventory");
        break;
      default:
        // Chat, friends, who, guilds, mail, trades, party, queues (social.js).
        if (!this.social.receive(m)) this.onOther(m);
    }
  }

  onOther(m) {
    keep(this.events, { kind: m.t, text: JSON.stringify(m) });
  }

  onNewWorld(m) {
    const first = this.world === null;
    const resumed = this.status === "resuming";
    this.world = m;
    this.resumeToken = m.resume || this.resumeToken;
    this.table = new EntityTable();
    this.me = null;
    this.pending = [];
    this.lastSent = null;
    this.moveTarget = null;
    this.target = 0;
    this.chasing = false;
    this.dead = false;
    this.status = "in_world";
    this.resumeTry = 0;
    if (resumed) this.resumes += 1;
    if (first) {
      this.askInventory();
      this.social.friendList();
    }
    if (resumed) this.note("back in the world");
    this.changed("world");
  }

  onFrame(m) {
    const now = performance.now();
    const { applied, touched } = this.table.apply(m, now);
    if (!applied) {
      this.send({ t: "keyframe" });
      return;
    }
    this.pending = this.pending.filter((p) => p.seq > m.ack);
    const own = this.table.entities.get(this.character.character_id);
    if (own && touched.has(own.id)) this.reconcile(own);
    this.changed("frame");
  }

  /** The server's own row at `ack` against the prediction: redo it when they differ. */
  reconcile(own) {
    this.dead = Boolean(own.flags & 1);
    if (this.me === null) {
      this.me = { x: own.x, y: own.y, z: own.z, o: own.o };
      return;
    }
    let x = own.x;
    let y = own.y;
    for (const p of this.pending) {
      x += p.dx;
      y += p.dy;
    }
    if (Math.hypot(x - this.me.x, y - this.me.y) > RECONCILE_DISTANCE) {
      this.me = { x, y, z: own.z, o: this.me.o };
      this.corrections += 1;
    } else {
      this.me.z = own.z;
    }
  }

  onCorrect(m) {
    if (m.character_id !== this.character.character_id) return;
    this.pending = this.pending.filter((p) => p.seq > m.seq);
    let { x, y } = m;
    for (const p of this.pending) {
      x += p.dx;
      y += p.dy;
    }
    this.me = { x, y, z: m.z, o: m.o };
    this.lastSent = { x, y, z: m.z, o: m.o };
    this.corrections += 1;
    if (m.reason && m.reason !== "respawn" && m.reason !== "release") {
      this.note(`the server put you back (${m.reason.replaceAll("_", " ")})`);
    }
    this.changed("frame");
  }

  onError(m) {
    if (m.code === "BAD_MESSAGE" && unknownType(m.message, "names")) {
      this.namesSupported = false; // an older gateway: names stay ids
      return;
    }
    if (m.code === "BAD_MESSAGE" && unknownType(m.message, "inventory")) {
      this.inventorySupported = false; // an older gateway: loot is listed as it comes
      return;
    }
    this.social.refused();
    this.error(m.code, m.message);
  }

  onLoot(m) {
    if (m.character_id !== this.character.character_id) return;
    keep(this.loot, { template_id: m.template_id, count: m.count, item_id: m.item_id });
    if (!this.inventory.fromServer) {
      this.inventory.items.push({ item_id: m.item_id, template_id: m.template_id, count: m.count });
    }
    this.note(`you loot ${m.count} × ${this.content.itemName(m.template_id)}`);
    this.askInventory();
    this.changed("inventory");
  }

  onDied(m) {
    const me = this.character.character_id;
    if (m.entity_id === me) {
      this.dead = true;
      this.note("you died: release to return to a graveyard");
    } else if (m.killer_id === me) {
      this.note(`you killed ${this.nameOf(m.entity_id)}`);
    }
    if (m.entity_id === this.target) {
      this.target = 0;
      this.chasing = false;
    }
    this.changed("target");
  }

  /** A line of the chat log: {id, at, kind, channel, from, to, text}. */
  addChat(entry) {
    keep(this.chat, entry);
    this.changed("chat");
  }

  /** An error to show; `page`: the page's own refusal, nothing was sent. */
  error(code, message, page = false) {
    keep(this.errors, { code, message, page, at: Date.now() });
    this.changed("errors");
  }

  note(text) {
    keepNote(this.events, text);
    this.changed("events");
  }

  // --- asking --------------------------------------------------------------

  askNames() {
    if (this.status !== "in_world" || this.namesSupported === false) return;
    const ids = [];
    for (const e of this.table.entities.values()) {
      if (e.kind === KIND_PLAYER && !this.names.has(e.id) && !this.asked.has(e.id)) ids.push(e.id);
      if (ids.length >= NAMES_PER_ASK) break;
    }
    if (ids.length === 0) return;
    for (const id of ids) this.asked.add(id);
    // Asked once per id: a gateway that does not answer is not asked again and again.
    this.send({ t: "names", ids });
  }

  askInventory() {
    if (this.inventorySupported === false) return;
    this.send({ t: "inventory" });
  }

  // --- the own character ---------------------------------------------------

  canMove() {
    return this.status === "in_world" && this.me !== null && !this.dead;
  }

  /** Advance the prediction to `now` (ms) from the keys held or the point clicked. */
  step(now) {
    const dt = Math.min((now - (this.lastTick || now)) / 1000, 0.1);
    this.lastTick = now;
    if (!this.canMove() || dt <= 0) return;
    let dx = 0;
    let dy = 0;
    if (this.keys.has("up")) dy += 1;
    if (this.keys.has("down")) dy -= 1;
    if (this.keys.has("right")) dx += 1;
    if (this.keys.has("left")) dx -= 1;
    const speed = this.runSpeed * SPEED_FACTOR;
    let reach = speed * dt;
    if (dx || dy) {
      // The keys win over a point clicked and over walking up to a target.
      this.moveTarget = null;
      this.chasing = false;
    } else {
      this.approachTarget();
    }
    if (!(dx || dy) && this.moveTarget) {
      dx = this.moveTarget.x - this.me.x;
      dy = this.moveTarget.y - this.me.y;
      const left = Math.hypot(dx, dy);
      if (left <= reach) {
        reach = left;
        this.moveTarget = null;
      }
    }
    const length = Math.hypot(dx, dy);
    if (length === 0 || reach === 0) return;
    const b = this.world.bounds;
    const x = Math.min(Math.max(this.me.x + (dx / length) * reach, b.min_x), b.max_x);
    const y = Math.min(Math.max(this.me.y + (dy / length) * reach, b.min_y), b.max_y);
    const o = (Math.atan2(dy, dx) + 2 * Math.PI) % (2 * Math.PI);
    this.me = { x, y, z: this.me.z, o };
  }

  /** At most MOVES_PER_SECOND times a second: report the position when it changed. */
  sendMove() {
    if (!this.canMove() || !this.conn || !this.conn.open) return;
    const me = this.me;
    const last = this.lastSent;
    if (last && last.x === me.x && last.y === me.y && last.o === me.o) return;
    this.seq += 1;
    const move = {
      t: "move",
      x: me.x,
      y: me.y,
      z: me.z,
      o: me.o,
      client_time_ms: Math.round(performance.now()),
      seq: this.seq,
    };
    if (!this.send(move)) return;
    const from = last || me;
    this.pending.push({ seq: this.seq, dx: me.x - from.x, dy: me.y - from.y });
    this.lastSent = { ...me };
  }

  /** Attacking: walk up to the target while it is out of reach. */
  approachTarget() {
    if (!this.chasing) return;
    const e = this.table.entities.get(this.target);
    if (!e || e.flags & 1) {
      this.chasing = false;
      return;
    }
    const dx = e.x - this.me.x;
    const dy = e.y - this.me.y;
    const d = Math.hypot(dx, dy);
    if (d > MELEE_APPROACH + 0.5) {
      const f = (d - MELEE_APPROACH) / d;
      this.moveTarget = { x: this.me.x + dx * f, y: this.me.y + dy * f };
    }
  }

  walkTo(x, y) {
    this.moveTarget = { x, y };
    this.chasing = false;
  }

  select(id) {
    this.target = id;
    this.chasing = false;
    this.changed("target");
  }

  attack() {
    if (!this.target) return;
    this.chasing = true;
    this.send({ t: "attack", target: this.target });
  }

  stopAttack() {
    this.chasing = false;
    this.moveTarget = null;
    this.send({ t: "attack", target: 0 });
  }

  /**
   * Cast `spell` at the target (a heal with none: at yourself). A damage spell with
   * no target, or one still cooling down, is refused here, saying why; the space
   * checks everything again.
   */
  cast(spell) {
    const known = this.content.spells.get(Number(spell));
    const name = known ? known.name : `spell ${spell}`;
    if (known && known.kind === "damage" && !this.target) {
      this.note(`${name}: select a target first (click a creature or a player)`);
      return false;
    }
    const now = performance.now();
    const readyAt = this.cooldowns.get(spell) || 0;
    if (now < readyAt) {
      this.note(`${name} is ready in ${((readyAt - now) / 1000).toFixed(1)} s`);
      return false;
    }
    if (known && known.cooldown) this.cooldowns.set(spell, now + known.cooldown * 1000);
    this.send({ t: "cast", spell, target: this.target || 0 });
    return true;
  }

  release() {
    this.send({ t: "release" });
  }

  say(text) {
    this.social.say(text, false);
  }

  // --- reading -------------------------------------------------------------

  nameOf(id) {
    const e = this.table.entities.get(id) || (this.table.gone && this.table.gone.get(id));
    if (e && e.kind !== KIND_PLAYER) return this.content.creatureName(e.template);
    const known = this.names.get(id);
    return known ? known.name : `Player ${id}`;
  }

  /** What tests and curious players may read (window.realmkit.state()). */
  snapshot() {
    const own = this.table.entities.get(this.character.character_id);
    return {
      status: this.status,
      character_id: this.character.character_id,
      name: this.character.name,
      map_id: this.world ? this.world.map_id : null,
      instance_id: this.world ? this.world.instance_id : null,
      position: this.me ? { ...this.me } : null,
      server_position: own ? { x: own.x, y: own.y, z: own.z, o: own.o } : null,
      seq: this.seq,
      ack: this.table.ack,
      pending: this.pending.length,
      frames: this.table.frames,
      bytes_in: this.bytesBefore + (this.conn ? this.conn.bytes : 0),
      frame_bytes_in: this.frameBytes,
      target: this.target,
      dead: this.dead,
      corrections: this.corrections,
      resumes: this.resumes,
      transfers: this.transfers,
      gateway: this.conn ? this.conn.url : "",
      entities: [...this.table.entities.values()].map((e) => ({
        id: e.id,
        kind: e.kind,
        template: e.template,
        x: e.x,
        y: e.y,
        z: e.z,
        hp: e.hp,
        flags: e.flags,
        name: this.nameOf(e.id),
      })),
      inventory: JSON.parse(JSON.stringify(this.inventory)),
      events: this.events.map((e) => e.text),
      chat: this.chat.map((c) => ({ ...c })),
      last_chat_id: this.lastChatId,
      social: this.social.snapshot(),
      errors: this.errors.slice(),
    };
  }
}
