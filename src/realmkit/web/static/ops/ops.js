// realmkit's operations page: log in, then the cluster every 2 s and the CLI's actions.
//
// Plain ES module, no build step. Everything shown comes from GET /api/ops/state
// (an operator's bearer token, kept in sessionStorage for this tab only); every
// action is a POST to /api/ops/..., asked for confirmation in the page first.
// Text from the server is written with textContent only, never parsed as HTML.
//
// Selectors for browser tests (each element has the id and a data-testid of the
// same name):
//   login-view, login-form, login-username, login-password, login-submit, login-error
//   forbidden-view            shown when the account is not an operator (403)
//   dashboard, whoami, logout, status-line (last refresh, players, leaders, or the error)
//   confirm, confirm-text, confirm-yes, confirm-no     the in-page confirmation step
//   action-result             the last action's answer; data-outcome="ok" | "error"
//   drain-form, drain-node, drain-submit
//   status-form, status-realm, status-value, status-submit
//   patch-form, patch-target ("realm:NAME" | "pool:NAME"), patch-name,
//     patch-activate, patch-rollback
//   announce-form, announce-realm, announce-text, announce-submit
//   realms-table, pools-table, nodes-table, gateways-table, instances-table,
//     queues-table, backups-table, restarts-table   (rows: data-testid="<table>-row")
//   nodes-table rows carry data-node="<node id>"; a world node's row has a button
//     data-testid="drain-<node id>"
//   cell-maps: one <svg data-testid="cell-map" data-realm data-map> per continent,
//     each cell a <g data-testid="cell" data-cell data-instance> with a <rect> and
//     its label (players, tick p99)

const TOKEN_KEY = "realmkit.ops.token";
const NAME_KEY = "realmkit.ops.account";
const REFRESH_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

let timer = null;
let polling = false;
let lastState = null;

// --- the API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "NETWORK", `the login node did not answer (${err.message})`);
  }
  let data = null;
  if ((response.headers.get("Content-Type") || "").startsWith("application/json")) {
    data = await response.json();
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `HTTP_${response.status}`,
      error.message || response.statusText);
  }
  return data;
}

// --- views -----------------------------------------------------------------------

function show(view) {
  for (const id of ["login-view", "forbidden-view", "dashboard"]) $(id).hidden = id !== view;
  const signedIn = view !== "login-view";
  $("logout").hidden = !signedIn;
  $("whoami").textContent = signedIn ? `signed in as ${sessionStorage.getItem(NAME_KEY) || "?"}` : "";
}

function stopPolling() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

function signOut(message) {
  stopPolling();
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(NAME_KEY);
  lastState = null;
  $("login-error").textContent = message || "";
  show("login-view");
  $("login-username").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  $("login-submit").disabled = true;
  $("login-error").textContent = "";
  try {
    const session = await call("POST", "/api/login", { username, password });
    sessionStorage.setItem(TOKEN_KEY, session.token);
    sessionStorage.setItem(NAME_KEY, username);
    $("login-password").value = "";
    await start();
  } catch (err) {
    $("login-error").textContent = err.code === "BAD_CREDENTIALS"
      ? "Wrong account name or password."
      : `${err.message} (${err.code})`;
  } finally {
    $("login-submit").disabled = false;
  }
}

async function start() {
  const ok = await refresh();
  if (ok) {
    show("dashboard");
    stopPolling();
    timer = setInterval(refresh, REFRESH_MS);
  }
}

// One poll; false when the dashboard must not be shown (not an operator, signed out).
async function refresh() {
  if (polling) return true;
  polling = true;
  try {
    const state = await call("GET", "/api/ops/state");
    lastState = state;
    render(state);
    return true;
  } catch (err) {
    if (err.status === 401) {
      signOut("Your session has ended: log in again.");
      return false;
    }
    if (err.status === 403) {
      stopPolling();
      show("forbidden-view");
      return false;
    }
    $("status-line").textContent = `refresh failed: ${err.message} (${err.code}); retrying`;
    $("status-line").dataset.outcome = "error";
    return true;
  } finally {
    polling = false;
  }
}

// --- rendering ---------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("data")) node.setAttribute(key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), value);
    else if (key === "class") node.className = value;
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function fill(tableId, headers, rows) {
  const table = $(tableId);
  const head = el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h))));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", { dataTestid: `${tableId}-row` });
    for (const cell of row.cells) tr.append(cell instanceof Node ? el("td", {}, cell) : el("td", {}, cell ?? "-"));
    for (const [key, value] of Object.entries(row.data || {})) tr.setAttribute(`data-${key}`, value);
    if (row.class) tr.className = row.class;
    body.append(tr);
  }
  if (rows.length === 0) {
    body.append(el("tr", { class: "empty" }, el("td", { colSpan: headers.length }, "none")));
  }
  table.replaceChildren(head, body);
}

const ms = (v) => (v === null || v === undefined ? "-" : `${v.toFixed(1)} ms`);
const pct = (v) => (v === null || v === undefined ? "n/a" : `${v.toFixed(1)} %`);
function bytes(v) {
  if (v === null || v === undefined) return "n/a";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 120) return `${seconds.toFixed(1)} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}
// A 20 Hz space has 50 ms a tick: half of it is worth a look, most of it trouble.
const WARM_MS = 25;
const HOT_MS = 45;
const tickClass = (p99) => (p99 === null || p99 === undefined ? "" : p99 > HOT_MS ? "hot" : p99 > WARM_MS ? "warm" : "");
const players = (n) => `${n} player${n === 1 ? "" : "s"}`;

function render(state) {
  const line = $("status-line");
  line.textContent = `${new Date().toLocaleTimeString()}: ${players(state.players)} in the world; ` +
    `orchestrator leader ${state.leader || "none"}, matchmaker ${state.matchmaker || "none"}`;
  line.dataset.outcome = "ok";
  sessionStorage.setItem(NAME_KEY, state.operator);
  $("whoami").textContent = `signed in as ${state.operator}`;

  fill("realms-table", ["id", "realm", "game", "pool", "status", "phase", "patch", "players"],
    state.realms.map((r) => ({
      cells: [r.realm_id, r.name, r.game_id, r.pool, r.status, r.current_phase, r.patch || "-", r.population],
      data: { realm: r.name },
      class: r.status === "online" ? "" : "muted",
    })));
  fill("pools-table", ["id", "pool", "game", "realms", "players", "cross-realm patch"],
    state.pools.map((p) => ({
      cells: [p.pool_id, p.name, p.game_id, p.realms, p.population, p.patch || "-"],
      data: { pool: p.name },
    })));
  fill("nodes-table", ["node", "role", "state", "heartbeat", "CPU", "memory", "spaces", "players", "tick p99", ""],
    state.nodes.map((n) => ({
      cells: [
        n.node_id, n.role, n.state, age(n.heartbeat_age_s), pct(n.cpu_percent), bytes(n.memory_bytes),
        n.spaces, n.players === null ? "-" : `${n.players}/${n.capacity}`, ms(n.tick_p99_ms),
        n.role === "world" && n.stored === "ready"
          ? el("button", { type: "button", dataTestid: `drain-${n.node_id}`, onclick: () => drain(n.node_id) }, "Drain")
          : "",
      ],
      data: { node: n.node_id },
      class: n.state === "ready" ? "" : "muted",
    })));
  fill("gateways-table", ["gateway", "players", "capacity", "send p99"],
    state.gateways.map((g) => ({ cells: [g.gateway_id, g.players, g.capacity, ms(g.send_p99_ms)] })));
  fill("instances-table", ["instance", "realm", "map", "kind", "state", "node", "players", "tick p99"],
    state.instances.map((i) => ({
      cells: [i.instance_id, i.realm, i.map || i.map_id, i.kind, i.state, i.node_id || "-", i.players, ms(i.tick_p99_ms)],
      data: { instance: i.instance_id },
      class: tickClass(i.tick_p99_ms),
    })));
  fill("queues-table", ["pool", "activity", "state", "tickets", "players", "longest wait"],
    state.queues.map((q) => ({
      cells: [q.pool, q.activity_id, q.state, q.tickets, q.players, `${Math.round(q.oldest_wait_s)} s`],
    })));
  fill("backups-table", ["backup node", "latest backup", "taken", "verified", "restore check", "checked", "took"],
    state.backups.map((b) => ({
      cells: [
        b.node_id, b.backup_id || "none", age(b.backup_age_s),
        b.backup_verified === null ? "not verified" : b.backup_verified ? "verified" : "VERIFY FAILED",
        b.check_ok === null ? "not yet" : b.check_ok ? `ok (${b.check_characters} characters)` : `FAILED: ${b.check_reason}`,
        age(b.check_age_s), `${b.check_seconds.toFixed(1)} s`,
      ],
      class: b.backup_verified === false || b.check_ok === false ? "hot" : "",
    })));
  fill("restarts-table", ["realm", "due", "why", "state", "spaces", "players"],
    state.restarts.map((r) => ({
      cells: [r.realm, new Date(r.due_at).toLocaleString(), r.reason, r.state, r.spaces, r.players],
    })));
  renderMaps(state.cells);
  renderChoices(state);
}

function renderMaps(cells) {
  const continents = new Map();
  for (const c of cells) {
    const key = `${c.realm}/${c.map_id}`;
    if (!continents.has(key)) continents.set(key, []);
    continents.get(key).push(c);
  }
  const figures = [];
  for (const [key, group] of continents) {
    const minX = Math.min(...group.map((c) => c.min_x));
    const minY = Math.min(...group.map((c) => c.min_y));
    const maxX = Math.max(...group.map((c) => c.max_x));
    const maxY = Math.max(...group.map((c) => c.max_y));
    const width = maxX - minX || 1;
    const height = maxY - minY || 1;
    const font = Math.min(width, height) / 18;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `${minX} ${minY} ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.setAttribute("role", "img");
    svg.setAttribute("data-testid", "cell-map");
    svg.setAttribute("data-realm", group[0].realm);
    svg.setAttribute("data-map", String(group[0].map_id));
    for (const c of group) {
      // The map's y grows northwards; the screen's downwards.
      const y = maxY - c.max_y + minY;
      const g = document.createElementNS(SVG, "g");
      g.setAttribute("data-testid", "cell");
      g.setAttribute("data-cell", String(c.cell_id));
      g.setAttribute("data-instance", String(c.instance_id));
      g.setAttribute("class", `cell ${tickClass(c.tick_p99_ms)}`);
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", c.min_x);
      rect.setAttribute("y", y);
      rect.setAttribute("width", c.max_x - c.min_x);
      rect.setAttribute("height", c.max_y - c.min_y);
      const title = document.createElementNS(SVG, "title");
      title.textContent = `cell ${c.cell_id} (instance ${c.instance_id}) on ${c.node_id || "no node"}, ${c.state}`;
      rect.append(title);
      g.append(rect);
      const lines = [`cell ${c.cell_id} · ${c.node_id || "-"}`, players(c.players), `p99 ${ms(c.tick_p99_ms)}`];
      lines.forEach((text, index) => {
        const label = document.createElementNS(SVG, "text");
        label.setAttribute("x", (c.min_x + c.max_x) / 2);
        label.setAttribute("y", y + (c.max_y - c.min_y) / 2 + (index - 1) * font * 1.3);
        label.setAttribute("font-size", font);
        label.setAttribute("text-anchor", "middle");
        label.setAttribute("dominant-baseline", "middle");
        label.textContent = text;
        g.append(label);
      });
      svg.append(g);
    }
    const name = group[0].map ? `${group[0].map} (map ${group[0].map_id})` : `map ${group[0].map_id}`;
    figures.push(el("figure", { dataContinent: key }, svg,
      el("figcaption", {}, `${group[0].realm}: ${name}, partition v${group[0].version}`)));
  }
  if (figures.length === 0) figures.push(el("p", { class: "muted" }, "no live continent"));
  else figures.push(el("p", { class: "legend muted" },
    `yellow: tick p99 above ${WARM_MS} ms; red: above ${HOT_MS} ms (a 20 Hz tick has 50 ms)`));
  $("cell-maps").replaceChildren(...figures);
}

// Keeps the operator's choice across refreshes: options change only when the cluster's do.
function choices(selectId, options) {
  const select = $(selectId);
  const wanted = options.map(([value, label]) => `${value}\u0000${label}`).join("\u0001");
  if (select.dataset.options === wanted) return;
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, label]) => el("option", { value, textContent: label })));
  select.dataset.options = wanted;
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}

function renderChoices(state) {
  const realms = state.realms.map((r) => [r.name, `${r.name} (${r.status})`]);
  choices("drain-node", state.nodes.filter((n) => n.role === "world").map((n) => [n.node_id, `${n.node_id} (${n.state})`]));
  choices("status-realm", realms);
  choices("announce-realm", realms);
  choices("patch-target", [
    ...state.realms.map((r) => [`realm:${r.name}`, `realm ${r.name} (runs ${r.patch || "base content"})`]),
    ...state.pools.map((p) => [`pool:${p.name}`, `pool ${p.name}, cross-realm (runs ${p.patch || "base content"})`]),
  ]);
}

// --- actions ---------------------------------------------------------------------

let pendingConfirm = null;

function confirmStep(text) {
  if (pendingConfirm) pendingConfirm(false);
  $("confirm-text").textContent = text;
  $("confirm").hidden = false;
  $("confirm-yes").focus();
  return new Promise((resolve) => {
    pendingConfirm = (answer) => {
      pendingConfirm = null;
      $("confirm").hidden = true;
      resolve(answer);
    };
  });
}

function said(action, result) {
  switch (action) {
    case "drain": {
      const moved = result.spaces.map((s) => `${s.instance_id} → ${s.to_node} (${players(s.players)})`);
      return `${result.node_id} drained: ${moved.length} spaces moved${moved.length ? `: ${moved.join(", ")}` : ""}`;
    }
    case "realm-status":
      return `realm ${result.realm.name} is now ${result.realm.status}`;
    case "patch-activate":
    case "patch-rollback":
      return `${result.target} (${result.game_id}) now runs ${result.patch || "the base content"}` +
        (result.announced ? "" : "; NATS was not reachable: world nodes pick it up within seconds");
    case "announce":
      return `${players(result.told)} told`;
    default:
      return JSON.stringify(result);
  }
}

// A new action's answer replaces the last one's: the line is cleared as it starts.
function clearResult() {
  const out = $("action-result");
  out.textContent = "";
  delete out.dataset.outcome;
}

// Said in the result line when an action is refused in the page (nothing is sent).
function refuse(action, why) {
  const out = $("action-result");
  out.textContent = `${action}: ${why}`;
  out.dataset.outcome = "error";
}

async function act(action, path, body, question) {
  clearResult();
  if (!(await confirmStep(question))) return;
  const out = $("action-result");
  out.textContent = `${action}: working...`;
  out.dataset.outcome = "pending";
  try {
    const done = await call("POST", path, body);
    out.textContent = said(done.action, done.result);
    out.dataset.outcome = "ok";
    if (action === "announce") $("announce-text").value = "";
  } catch (err) {
    if (err.status === 401) return signOut("Your session has ended: log in again.");
    if (err.status === 403) return show("forbidden-view");
    out.textContent = `${action} failed: ${err.message} (${err.code})`;
    out.dataset.outcome = "error";
  }
  await refresh();
}

function drain(node) {
  return act("drain", "/api/ops/drain", { node },
    `Drain ${node}? Every space it runs moves to another world node (players stay connected), and it takes no new ones.`);
}

function target() {
  const [kind, ...rest] = $("patch-target").value.split(":");
  return { [kind]: rest.join(":") };
}

function wire() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", () => signOut(""));
  $("confirm-yes").addEventListener("click", () => pendingConfirm && pendingConfirm(true));
  $("confirm-no").addEventListener("click", () => pendingConfirm && pendingConfirm(false));
  $("drain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    drain($("drain-node").value);
  });
  $("status-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const realm = $("status-realm").value;
    const status = $("status-value").value;
    act("realm-status", "/api/ops/realm-status", { realm, status },
      `Set realm ${realm} to ${status}? A realm not online takes no new players or queue tickets.`);
  });
  $("patch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const patch = $("patch-name").value.trim();
    const on = target();
    act("patch-activate", "/api/ops/patch/activate", { patch, ...on },
      `Activate patch ${patch || "(none given)"} on ${$("patch-target").value.replace(":", " ")}? Running spaces switch at a tick boundary.`);
  });
  $("patch-rollback").addEventListener("click", () => {
    act("patch-rollback", "/api/ops/patch/rollback", target(),
      `Roll ${$("patch-target").value.replace(":", " ")} back to the parent of its active patch?`);
  });
  $("announce-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const realm = $("announce-realm").value;
    const text = $("announce-text").value.trim();
    clearResult();
    if (!text) {
      refuse("announce", "write the announcement first");
      $("announce-text").focus();
      return;
    }
    act("announce", "/api/ops/announce", { realm, text },
      `Tell every player of ${realm} in the world: “${text}”?`);
  });
}

wire();
if (sessionStorage.getItem(TOKEN_KEY)) {
  start();
} else {
  show("login-view");
}
