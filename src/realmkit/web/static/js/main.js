// The page: screens (log in, realms, characters, the world), their forms, the
// game's panels, the keyboard and mouse, and window.realmkit for tests.

import { Api, ApiError } from "./api.js";
import { Content } from "./content.js";
import { describe, describeError } from "./errors.js";
import { Game } from "./game.js";
import * as panels from "./panels.js";
import { button, item } from "./panels.js";
import { View } from "./render.js";

const $ = (id) => document.getElementById(id);
const api = new Api();
const app = {
  realm: null,
  characters: [],
  game: null,
  view: null,
  content: new Content(null),
  raf: 0, // the drawing loop's next frame: one loop, whatever the games entered
};

const KEYS = {
  ArrowUp: "up", KeyW: "up",
  ArrowDown: "down", KeyS: "down",
  ArrowLeft: "left", KeyA: "left",
  ArrowRight: "right", KeyD: "right",
};

function show(screen) {
  for (const id of ["login-screen", "realm-screen", "character-screen", "game-screen"]) {
    $(id).hidden = id !== screen;
  }
}

function failure(element, exc) {
  element.textContent = exc instanceof ApiError ? describe(exc.code, exc.message) : String(exc);
}

// --- accounts, realms, characters --------------------------------------------

// What the login node takes as an account (auth/passwords.py).
const ACCOUNT_NAME = /^[A-Za-z0-9_]{3,32}$/;
const PASSWORD_LENGTH = [8, 128];
// The session is kept in this tab only (sessionStorage): a reload stays logged in.
const SESSION_KEY = "realmkit.session";

/** Why the login form cannot be sent as it is ("" when it can). */
function credentialsProblem(username, password, register) {
  if (!ACCOUNT_NAME.test(username)) {
    return "An account name is 3 to 32 letters, digits or underscores (_), nothing else.";
  }
  const [least, most] = PASSWORD_LENGTH;
  if (register && (password.length < least || password.length > most)) {
    return `A password is ${least} to ${most} characters.`;
  }
  if (!password || password.length > most) return "Type your password.";
  return "";
}

async function authenticate(register) {
  const username = $("username").value.trim();
  const password = $("password").value;
  $("login-error").textContent = credentialsProblem(username, password, register);
  if ($("login-error").textContent) return;
  try {
    if (register) await api.register(username, password);
    else await api.login(username, password);
  } catch (exc) {
    failure($("login-error"), exc);
    return;
  }
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ username, session: api.session }));
  $("account").textContent = username;
  $("logout").hidden = false;
  await showRealms();
}

/** Back to the login screen, the session forgotten (it ended, or was refused). */
function loggedOut(why) {
  sessionStorage.removeItem(SESSION_KEY);
  api.session = null;
  $("account").textContent = "";
  $("logout").hidden = true;
  show("login-screen");
  $("login-error").textContent = why;
}

/** The Log out button: out of the world first (a goodbye: logged out, saved). */
function logOut() {
  if (app.game) app.game.leave();
  app.game = null;
  cancelAnimationFrame(app.raf);
  loggedOut("");
}

/** The session this tab kept, if any: the realm list again after a reload. */
function resumeSession() {
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    kept = null;
  }
  if (!kept || !kept.session || !kept.session.token) return;
  api.session = kept.session;
  $("account").textContent = kept.username || "";
  $("logout").hidden = false;
  showRealms();
}

async function showRealms() {
  show("realm-screen");
  $("realm-error").textContent = "";
  const list = $("realm-list");
  list.replaceChildren();
  let realms;
  try {
    realms = await api.realms();
  } catch (exc) {
    failure($("realm-error"), exc);
    return;
  }
  for (const realm of realms) {
    const li = document.createElement("li");
    const label = `${realm.name} (${realm.game_id}) — ${realm.status}, ${realm.population} playing`;
    const b = button(label, `choose-realm-${realm.realm_id}`, () => showCharacters(realm));
    b.disabled = realm.status !== "online";
    li.append(b);
    list.append(li);
  }
}

async function showCharacters(realm) {
  app.realm = realm;
  show("character-screen");
  $("realm-name").textContent = realm.name;
  $("character-error").textContent = "";
  const list = $("character-list");
  list.replaceChildren();
  try {
    app.characters = await api.characters(realm.realm_id);
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      loggedOut("Your session has ended: log in again.");
      return;
    }
    failure($("character-error"), exc);
    return;
  }
  for (const c of app.characters) {
    const li = document.createElement("li");
    li.append(button(`Enter as ${c.name} (level ${c.level})`, `enter-${c.name}`, () => enter(c)));
    list.append(li);
  }
}

// What the login node takes as a character's name (protocol/login.py).
const CHARACTER_NAME = /^[A-Za-z]{2,12}$/;

async function createCharacter() {
  $("character-error").textContent = "";
  const name = $("character-name").value.trim();
  if (!CHARACTER_NAME.test(name)) {
    $("character-error").textContent = "A character's name is 2 to 12 letters, A to Z, with no spaces, digits or accents.";
    return;
  }
  try {
    await api.createCharacter(app.realm.realm_id, name);
  } catch (exc) {
    failure($("character-error"), exc);
    return;
  }
  $("character-name").value = "";
  await showCharacters(app.realm);
}

// --- the world -----------------------------------------------------------------

async function enter(character) {
  $("character-error").textContent = "";
  const raw = await api.content(app.realm.realm_id);
  app.content = new Content(raw);
  const game = new Game({
    api,
    content: app.content,
    character,
    realmName: app.realm.name,
    changed: (what) => changed(what),
  });
  app.game = game;
  show("game-screen");
  $("loading-overlay").hidden = false;
  $("loading-text").textContent = "Entering the world…";
  try {
    await game.enter();
  } catch (exc) {
    app.game = null;
    show("character-screen");
    failure($("character-error"), exc);
    return;
  }
  app.view = new View($("world"), game);
  renderSpells();
  renderAll();
  $("world").focus();
  cancelAnimationFrame(app.raf);
  app.raf = requestAnimationFrame(frame);
}

function leave() {
  if (app.game) app.game.leave();
  app.game = null;
  cancelAnimationFrame(app.raf);
  showCharacters(app.realm);
}

function frame(now) {
  const game = app.game;
  if (!game) return;
  game.step(now);
  app.view.draw(now);
  const me = game.me;
  const own = game.table.entities.get(game.character.character_id);
  const health = own ? `  health ${own.hp}%` : "";
  const level = `level ${game.character.level || 1}`;
  $("coords").textContent = me ? `${level}${health}  x ${me.x.toFixed(1)}  y ${me.y.toFixed(1)}` : "";
  app.raf = requestAnimationFrame(frame);
}

function changed(what) {
  const game = app.game;
  if (!game) return;
  if (what === "status" || what === "world") renderStatus();
  if (what === "chat") panels.renderChat(game);
  if (what === "channels") panels.renderChannels(game);
  if (what === "friends") panels.renderFriends(game);
  if (what === "party") panels.renderParty(game);
  if (what === "guild") panels.renderGuild(game);
  if (what === "queue") panels.renderQueues(game);
  if (what === "events") renderEvents();
  if (what === "errors") renderErrors();
  if (what === "inventory" || what === "names") renderInventory();
  if (what === "target" || what === "frame") renderTarget();
  panels.changed(game, what);
}

function renderAll() {
  renderStatus();
  panels.renderSocial(app.game);
  renderEvents();
  renderErrors();
  renderInventory();
  renderTarget();
}

const STATUS_TEXT = {
  connecting: "Connecting…",
  in_world: "In the world",
  loading: "Travelling…",
  resuming: "Connection lost: coming back…",
  closed: "Disconnected",
};

function renderStatus() {
  const game = app.game;
  const map = game.world ? game.content.map(game.world.map_id) : null;
  const where = map && map.name ? ` — ${map.name}` : game.world ? ` — map ${game.world.map_id}` : "";
  $("status").textContent = (STATUS_TEXT[game.status] || game.status) + where;
  const overlay = !["in_world", "closed"].includes(game.status);
  $("loading-overlay").hidden = !overlay;
  if (game.status === "loading") {
    $("loading-text").textContent = `Travelling (${game.loadingReason || "transfer"})…`;
  } else if (game.status === "resuming") {
    $("loading-text").textContent = `Connection lost: coming back (try ${game.resumeTry})…`;
  } else if (game.status === "connecting") {
    $("loading-text").textContent = "Entering the world…";
  }
}

function renderEvents() {
  const log = $("events-log");
  log.replaceChildren(...app.game.events.filter((e) => e.kind === "note").map((e) => item(e.text, "event-line")));
  log.scrollTop = log.scrollHeight;
}

function renderErrors() {
  const log = $("error-log");
  log.replaceChildren(...app.game.errors.map((e) => item(describeError(e), `error-${e.code}`)));
  log.scrollTop = log.scrollHeight;
}

function renderInventory() {
  const { inventory, content } = app.game;
  $("money").textContent = inventory.fromServer ? `${inventory.money} money` : "";
  const list = $("inventory-list");
  list.replaceChildren(
    ...inventory.items.map((it) => {
      const li = item(`${content.itemName(it.template_id)} × ${it.count}`, "inventory-item");
      li.className = `quality-${content.itemQuality(it.template_id)}`;
      return li;
    }),
  );
  if (inventory.items.length === 0) list.append(item("(empty)", "inventory-empty"));
}

function renderTarget() {
  const game = app.game;
  const e = game.target ? game.table.entities.get(game.target) : null;
  $("target-name").textContent = e ? `${game.nameOf(e.id)} — ${e.hp}%` : "none (click someone)";
  $("release").hidden = !game.dead;
}

function renderSpells() {
  const box = $("spells");
  box.replaceChildren();
  const spells = app.content.spellList();
  if (spells.length === 0) {
    box.append(item("No spell list from this server.", "no-spells"));
    return;
  }
  for (const spell of spells) {
    box.append(button(spell.name, `cast-${spell.id}`, () => app.game && app.game.cast(spell.id)));
  }
}

// --- input ---------------------------------------------------------------------

function typing(event) {
  const tag = event.target && event.target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA";
}

window.addEventListener("keydown", (event) => {
  const game = app.game;
  if (!game || typing(event)) return;
  const key = KEYS[event.code];
  if (key) {
    game.keys.add(key);
    event.preventDefault();
  } else if (event.code === "Enter") {
    $("chat-input").focus();
    event.preventDefault();
  } else if (event.code === "Escape") {
    game.select(0);
  }
});
window.addEventListener("keyup", (event) => {
  const key = KEYS[event.code];
  if (key && app.game) app.game.keys.delete(key);
});
window.addEventListener("blur", () => app.game && app.game.keys.clear());

function onCanvasClick(event) {
  const { game, view } = app;
  if (!game || !view) return;
  const rect = view.canvas.getBoundingClientRect();
  const at = view.toWorld(event.clientX - rect.left, event.clientY - rect.top);
  const hit = view.entityAt(at.x, at.y, Math.max(1.5, 12 / view.scale), performance.now());
  if (hit) game.select(hit);
  else game.walkTo(at.x, at.y);
}

// --- wiring --------------------------------------------------------------------

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  authenticate(false);
});
$("register").addEventListener("click", () => authenticate(true));
$("create-form").addEventListener("submit", (event) => {
  event.preventDefault();
  createCharacter();
});
$("back-to-realms").addEventListener("click", () => showRealms());
$("world").addEventListener("click", onCanvasClick);
$("world").addEventListener("wheel", (event) => {
  if (!app.view) return;
  event.preventDefault();
  app.view.zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15);
}, { passive: false });
$("attack").addEventListener("click", () => app.game && app.game.attack());
$("stop-attack").addEventListener("click", () => app.game && app.game.stopAttack());
$("release").addEventListener("click", () => app.game && app.game.release());
$("leave").addEventListener("click", leave);
$("logout").addEventListener("click", logOut);
panels.wireSocial(() => app.game);
resumeSession();

// Read-only views for tests and the curious: never a way to change the game.
window.realmkit = Object.freeze({
  state: () => (app.game ? app.game.snapshot() : null),
  // Where an entity is drawn, in CSS pixels of the page (to click it); null if not.
  screenOf: (id) => {
    const { game, view } = app;
    const e = game && view ? game.table.entities.get(id) : null;
    if (!e) return null;
    const at = game.table.drawnAt(e, performance.now());
    const [x, y] = view.toScreen(at.x, at.y);
    const rect = view.canvas.getBoundingClientRect();
    return { x: rect.left + x / view.ratio, y: rect.top + y / view.ratio };
  },
  screen: () =>
    ["login-screen", "realm-screen", "character-screen", "game-screen"].find((id) => !$(id).hidden),
});
