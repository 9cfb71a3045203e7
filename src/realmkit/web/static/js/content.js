// The realm's content (GET /api/realms/{id}/content), indexed for the client.
// Every part is optional: until the server serves it (or for a pack without it),
// names fall back to ids and nothing is drawn for portals.

function byId(list) {
  const out = new Map();
  if (Array.isArray(list)) {
    for (const entry of list) if (entry && entry.id !== undefined) out.set(Number(entry.id), entry);
  } else if (list && typeof list === "object") {
    for (const [id, entry] of Object.entries(list)) out.set(Number(id), { id: Number(id), ...entry });
  }
  return out;
}

export class Content {
  constructor(raw) {
    const data = raw || {};
    this.available = Boolean(raw);
    this.maps = byId(data.maps);
    this.creatures = byId(data.creatures);
    this.items = byId(data.items);
    this.spells = byId(data.spells);
    // The player's run speed when the server says it (else the client's default).
    const player = data.player || {};
    this.runSpeed = typeof player.run_speed === "number" ? player.run_speed : null;
  }

  map(mapId) {
    return this.maps.get(Number(mapId)) || null;
  }

  creatureName(template) {
    const c = this.creatures.get(Number(template));
    return c && c.name ? c.name : `Creature ${template}`;
  }

  creatureLevel(template) {
    const c = this.creatures.get(Number(template));
    return c && c.level ? c.level : null;
  }

  itemName(templateId) {
    const item = this.items.get(Number(templateId));
    return item && item.name ? item.name : `Item ${templateId}`;
  }

  itemQuality(templateId) {
    const item = this.items.get(Number(templateId));
    return item && item.quality ? String(item.quality) : "common";
  }

  /** Spells a player can cast: [{id, name, kind}] (empty without content). */
  spellList() {
    return [...this.spells.values()].map((s) => ({
      id: Number(s.id),
      name: s.name || `Spell ${s.id}`,
      kind: s.kind || "",
    }));
  }

  portals(mapId) {
    const map = this.map(mapId);
    return map && Array.isArray(map.portals) ? map.portals : [];
  }

  zones(mapId) {
    const map = this.map(mapId);
    return map && Array.isArray(map.zones) ? map.zones : [];
  }
}
