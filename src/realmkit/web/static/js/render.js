// The top-down view on a 2D canvas: world x to the right, world y up, the own
// character in the middle. Others are drawn where the entity table interpolates
// them; the own character where the prediction says.

import { FLAG_COMBAT, FLAG_DEAD, KIND_CREATURE, KIND_PLAYER } from "./world.js";

const COLORS = {
  outside: "#0b0f0b",
  ground: "#1f3322",
  grid: "rgba(255,255,255,0.05)",
  zone: "rgba(255,255,255,0.18)",
  portal: "rgba(170, 90, 255, 0.55)",
  self: "#4be37a",
  player: "#5aa9ff",
  creature: "#e8664a",
  dead: "#777777",
  target: "#ffd84a",
  text: "#f2f2e8",
};

export class View {
  constructor(canvas, game) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.game = game;
    this.scale = 8; // pixels per world unit
    this.center = { x: 0, y: 0 };
  }

  zoom(factor) {
    this.scale = Math.min(24, Math.max(2, this.scale * factor));
  }

  fit() {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width * ratio));
    const h = Math.max(1, Math.round(rect.height * ratio));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ratio = ratio;
  }

  toScreen(x, y) {
    const s = this.scale * this.ratio;
    return [
      this.canvas.width / 2 + (x - this.center.x) * s,
      this.canvas.height / 2 - (y - this.center.y) * s,
    ];
  }

  /** A click at client coordinates (CSS pixels, relative to the canvas) in world units. */
  toWorld(px, py) {
    const s = this.scale;
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: this.center.x + (px - rect.width / 2) / s,
      y: this.center.y - (py - rect.height / 2) / s,
    };
  }

  /** The entity drawn nearest a world point, within `radius` units; 0 when none. */
  entityAt(x, y, radius, now) {
    let best = 0;
    let bestDistance = radius;
    for (const e of this.game.table.entities.values()) {
      if (e.id === this.game.character.character_id) continue;
      const at = this.game.table.drawnAt(e, now);
      const d = Math.hypot(at.x - x, at.y - y);
      if (d <= bestDistance) {
        best = e.id;
        bestDistance = d;
      }
    }
    return best;
  }

  draw(now) {
    this.fit();
    const { ctx, game } = this;
    const world = game.world;
    ctx.fillStyle = COLORS.outside;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!world || !game.me) return;
    this.center = { x: game.me.x, y: game.me.y };
    this.drawGround(world);
    this.drawPortals(world.map_id);
    const selfId = game.character.character_id;
    const labels = [];
    for (const e of game.table.entities.values()) {
      if (e.id === selfId) continue;
      labels.push(this.drawEntity(e, game.table.drawnAt(e, now), false));
    }
    const own = game.table.entities.get(selfId);
    if (own) labels.push(this.drawEntity(own, game.me, true));
    const waypoints = this.drawWaypoints(world.map_id);
    this.drawLabels(labels.filter((l) => this.onCanvas(l.x, l.y)), waypoints);
  }

  onCanvas(sx, sy) {
    return sx >= 0 && sy >= 0 && sx <= this.canvas.width && sy <= this.canvas.height;
  }

  /** The box of the canvas (in its pixels) that the status line over it covers. */
  hudBox() {
    const hud = document.getElementById("hud");
    if (!hud) return null;
    const canvas = this.canvas.getBoundingClientRect();
    const box = hud.getBoundingClientRect();
    const r = this.ratio;
    return {
      x0: (box.left - canvas.left) * r,
      x1: (box.right - canvas.left) * r,
      y0: (box.top - canvas.top) * r,
      y1: (box.bottom - canvas.top) * r,
    };
  }

  /**
   * Portals out of sight: a marker at the canvas' edge in their direction, with their
   * name and distance, so that a player can find the way to a dungeon.
   */
  drawWaypoints(mapId) {
    const { ctx, game } = this;
    const boxes = [];
    const r = this.ratio;
    const inset = 24 * r;
    const [cx, cy] = [this.canvas.width / 2, this.canvas.height / 2];
    ctx.font = `${11 * r}px sans-serif`;
    for (const portal of game.content.portals(mapId)) {
      const a = portal.area || {};
      const px = (a.min_x + a.max_x) / 2;
      const py = (a.min_y + a.max_y) / 2;
      const [sx, sy] = this.toScreen(px, py);
      if (this.onCanvas(sx, sy)) continue; // drawn on the map itself
      const dx = sx - cx;
      const dy = sy - cy;
      // Where the line from the centre towards the portal leaves the inset canvas.
      const t = Math.min((cx - inset) / Math.abs(dx || 1e-9), (cy - inset) / Math.abs(dy || 1e-9));
      const mx = cx + dx * t;
      const my = cy + dy * t;
      const angle = Math.atan2(dy, dx);
      ctx.fillStyle = COLORS.portal;
      ctx.beginPath();
      ctx.moveTo(mx + Math.cos(angle) * 10 * r, my + Math.sin(angle) * 10 * r);
      ctx.lineTo(mx + Math.cos(angle + 2.5) * 8 * r, my + Math.sin(angle + 2.5) * 8 * r);
      ctx.lineTo(mx + Math.cos(angle - 2.5) * 8 * r, my + Math.sin(angle - 2.5) * 8 * r);
      ctx.closePath();
      ctx.fill();
      const distance = Math.round(Math.hypot(px - game.me.x, py - game.me.y));
      const text = `${portal.name || `Portal to map ${portal.to_map}`} ${distance.toLocaleString("en")} yd`;
      const w = ctx.measureText(text).width;
      const tx = Math.min(Math.max(mx - Math.cos(angle) * 18 * r, w / 2 + 4 * r), this.canvas.width - w / 2 - 4 * r);
      const ty = Math.min(Math.max(my - Math.sin(angle) * 18 * r, 30 * r), this.canvas.height - 6 * r);
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = "center";
      ctx.fillText(text, tx, ty);
      ctx.textAlign = "start";
      boxes.push({ x0: tx - w / 2, x1: tx + w / 2, y0: ty - 12 * r, y1: ty + 2 * r });
      boxes.push({ x0: mx - 10 * r, x1: mx + 10 * r, y0: my - 10 * r, y1: my + 10 * r });
    }
    return boxes; // where labels must not go
  }

  /**
   * Names over the entities, placed so that none covers another: the own name first,
   * then the target's, then the nearest. A label that would overlap one already placed
   * is left out (the own and the target's may move up a line); every label stays
   * inside the canvas, off the status line and the waypoints (`reserved`).
   */
  drawLabels(labels, reserved = []) {
    const { ctx, game } = this;
    const r = this.ratio;
    ctx.font = `${11 * r}px sans-serif`;
    const line = 13 * r;
    const [cx, cy] = [this.canvas.width / 2, this.canvas.height / 2];
    const rank = (l) => (l.self ? 0 : l.id === game.target ? 1 : 2);
    labels.sort((a, b) => rank(a) - rank(b) || Math.hypot(a.x - cx, a.y - cy) - Math.hypot(b.x - cx, b.y - cy));
    const hud = this.hudBox();
    const placed = hud ? [hud, ...reserved] : [...reserved]; // never over the status line
    const overlaps = (box) =>
      placed.some((p) => box.x0 < p.x1 && p.x0 < box.x1 && box.y0 < p.y1 && p.y0 < box.y1);
    ctx.textAlign = "center";
    for (const label of labels) {
      const w = ctx.measureText(label.text).width + 4 * r;
      const x = Math.min(Math.max(label.x, w / 2), this.canvas.width - w / 2);
      // Others' names stay over their entity or are left out (moved, they would seem
      // to name something else); the own and the target's may go one line up.
      const shifts = label.self || label.id === game.target ? 2 : 1;
      for (let shift = 0; shift < shifts; shift += 1) {
        const y = Math.max(line, label.y - shift * line);
        const box = { x0: x - w / 2, x1: x + w / 2, y0: y - line + 2 * r, y1: y + 2 * r };
        if (overlaps(box)) continue;
        placed.push(box);
        ctx.fillStyle = label.self ? COLORS.self : label.id === game.target ? COLORS.target : COLORS.text;
        ctx.fillText(label.text, x, y);
        break;
      }
    }
    ctx.textAlign = "start";
  }

  drawGround(world) {
    const { ctx } = this;
    const b = world.bounds;
    const [x0, y0] = this.toScreen(b.min_x, b.max_y);
    const [x1, y1] = this.toScreen(b.max_x, b.min_y);
    ctx.fillStyle = COLORS.ground;
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    const s = this.scale * this.ratio;
    const step = 10;
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    const halfW = this.canvas.width / 2 / s;
    const halfH = this.canvas.height / 2 / s;
    const left = Math.max(b.min_x, Math.floor((this.center.x - halfW) / step) * step);
    const right = Math.min(b.max_x, this.center.x + halfW);
    const bottom = Math.max(b.min_y, Math.floor((this.center.y - halfH) / step) * step);
    const top = Math.min(b.max_y, this.center.y + halfH);
    for (let x = left; x <= right; x += step) {
      const [sx, sy0] = this.toScreen(x, bottom);
      const [, sy1] = this.toScreen(x, top);
      ctx.moveTo(sx, sy0);
      ctx.lineTo(sx, sy1);
    }
    for (let y = bottom; y <= top; y += step) {
      const [sx0, sy] = this.toScreen(left, y);
      const [sx1] = this.toScreen(right, y);
      ctx.moveTo(sx0, sy);
      ctx.lineTo(sx1, sy);
    }
    ctx.stroke();
    ctx.strokeStyle = COLORS.zone;
    ctx.fillStyle = COLORS.zone;
    ctx.font = `${12 * this.ratio}px sans-serif`;
    for (const zone of this.game.content.zones(world.map_id)) {
      const a = zone.area || {};
      const [zx0, zy0] = this.toScreen(a.min_x, a.max_y);
      const [zx1, zy1] = this.toScreen(a.max_x, a.min_y);
      ctx.strokeRect(zx0, zy0, zx1 - zx0, zy1 - zy0);
      if (zone.name) ctx.fillText(zone.name, zx0 + 6, zy1 - 6);
    }
  }

  drawPortals(mapId) {
    const { ctx } = this;
    for (const portal of this.game.content.portals(mapId)) {
      const a = portal.area || {};
      const [x0, y0] = this.toScreen(a.min_x, a.max_y);
      const [x1, y1] = this.toScreen(a.max_x, a.min_y);
      ctx.fillStyle = COLORS.portal;
      ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      ctx.fillStyle = COLORS.text;
      ctx.font = `${12 * this.ratio}px sans-serif`;
      ctx.textAlign = "center";
      ctx.fillText(portal.name || `Portal to map ${portal.to_map}`, (x0 + x1) / 2, y0 - 4);
      ctx.textAlign = "start";
    }
  }

  /** The entity's disc, facing and health bar; its label, to draw with the others. */
  drawEntity(e, at, self) {
    const { ctx, game } = this;
    const r = this.ratio;
    const [sx, sy] = this.toScreen(at.x, at.y);
    const radius = Math.max(6, 0.6 * this.scale) * r;
    let color = e.kind === KIND_CREATURE ? COLORS.creature : COLORS.player;
    if (self) color = COLORS.self;
    if (e.flags & FLAG_DEAD) color = COLORS.dead;
    if (e.id === game.target) {
      ctx.strokeStyle = COLORS.target;
      ctx.lineWidth = 2 * r;
      ctx.beginPath();
      ctx.arc(sx, sy, radius + 4 * r, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(sx, sy, radius, 0, 2 * Math.PI);
    ctx.fill();
    // Facing: a short line from the centre (world y up, screen y down).
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2 * r;
    ctx.beginPath();
    ctx.moveTo(sx, sy);
    ctx.lineTo(sx + Math.cos(at.o) * radius, sy - Math.sin(at.o) * radius);
    ctx.stroke();
    if (e.flags & FLAG_COMBAT) {
      ctx.strokeStyle = "#ff3030";
      ctx.lineWidth = 1 * r;
      ctx.beginPath();
      ctx.arc(sx, sy, radius + 1.5 * r, 0, 2 * Math.PI);
      ctx.stroke();
    }
    // Name and health bar above.
    const barW = 36 * r;
    const barH = 4 * r;
    const top = sy - radius - 8 * r;
    ctx.fillStyle = "#300";
    ctx.fillRect(sx - barW / 2, top, barW, barH);
    ctx.fillStyle = e.hp > 30 ? "#3ccf4e" : "#e0b020";
    ctx.fillRect(sx - barW / 2, top, (barW * Math.max(0, Math.min(100, e.hp))) / 100, barH);
    let label = game.nameOf(e.id);
    if (e.kind === KIND_CREATURE) {
      const level = game.content.creatureLevel(e.template);
      if (level) label += ` (${level})`;
    } else if (e.kind === KIND_PLAYER) {
      const known = game.names.get(e.id);
      if (known && known.level) label += ` (${known.level})`;
    }
    return { id: e.id, self, text: label, x: sx, y: top - 3 * r };
  }
}
