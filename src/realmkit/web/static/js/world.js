// The client's entity table: frames applied in sequence order, quantized rows
// decoded (src/realmkit/replication/quantize.py), and a short history per entity
// so others are drawn interpolated, INTERP_DELAY_MS behind the newest frame.

export const POS_SCALE = 8; // quanta per world unit
export const ORIENT_STEPS = 256; // quanta per full turn
export const KIND_PLAYER = 1;
export const KIND_CREATURE = 2;
export const FLAG_DEAD = 1;
export const FLAG_COMBAT = 2;
export const FLAG_EVADING = 4;
export const INTERP_DELAY_MS = 100;
const HISTORY = 20; // samples kept per entity

/** A quantized row's state in world units and radians. */
export function dequantize(x, y, z, o) {
  return {
    x: x / POS_SCALE,
    y: y / POS_SCALE,
    z: z / POS_SCALE,
    o: (o / ORIENT_STEPS) * 2 * Math.PI,
  };
}

/** A ghost (a neighbour cell's copy) is drawn as what it copies. */
function baseKind(kind) {
  return kind > 2 ? kind - 2 : kind;
}

export class EntityTable {
  constructor() {
    this.entities = new Map(); // id -> {id, kind, template, x, y, z, o, hp, flags, samples}
    this.lastSeq = 0;
    this.ack = 0;
    this.tick = -1;
    this.needsKeyframe = false;
    this.frames = 0;
    this.gone = new Map(); // id -> {kind, template} of entities that left view, the last 64
  }

  /**
   * Apply one decoded `frame` message received at `now` (ms). Returns
   * {applied, touched}: touched is the set of ids added or updated; applied is
   * false when a gap was seen and a keyframe is needed.
   */
  /** The kind and template of an entity that left view, the last 64 kept. */
  rememberGone(entity) {
    this.gone.delete(entity.id);
    this.gone.set(entity.id, { kind: entity.kind, template: entity.template });
    if (this.gone.size > 64) this.gone.delete(this.gone.keys().next().value);
  }

  apply(frame, now) {
    const touched = new Set();
    if (frame.reset) {
      this.entities.clear();
      this.needsKeyframe = false;
    } else if (this.needsKeyframe || frame.seq !== this.lastSeq + 1) {
      this.needsKeyframe = true;
      return { applied: false, touched };
    }
    const [removes, adds, updates] = frame.body;
    for (const id of removes) {
      const gone = this.entities.get(id);
      // Who it was, for what is said of it after it left view (a kill, a loot).
      if (gone) this.rememberGone(gone);
      this.entities.delete(id);
    }
    for (const [id, kind, template, x, y, z, o, hp, flags] of adds) {
      const entity = { id, kind: baseKind(kind), template, hp, flags, samples: [] };
      Object.assign(entity, dequantize(x, y, z, o));
      entity.samples.push({ t: now, x: entity.x, y: entity.y, o: entity.o });
      this.entities.set(id, entity);
      touched.add(id);
    }
    for (const [id, x, y, z, o, hp, flags] of updates) {
      const entity = this.entities.get(id);
      if (!entity) {
        // An update for a row never added: the table is wrong, resync.
        this.needsKeyframe = true;
        return { applied: false, touched };
      }
      Object.assign(entity, dequantize(x, y, z, o), { hp, flags });
      const last = entity.samples[entity.samples.length - 1];
      if (last && now - last.t > 2 * INTERP_DELAY_MS) {
        // It stood still since: it starts moving one frame before this one, not
        // all the way from when it stopped.
        entity.samples.push({ ...last, t: now - INTERP_DELAY_MS });
      }
      entity.samples.push({ t: now, x: entity.x, y: entity.y, o: entity.o });
      if (entity.samples.length > HISTORY) entity.samples.shift();
      touched.add(id);
    }
    this.lastSeq = frame.seq;
    this.ack = frame.ack;
    this.tick = frame.tick;
    this.frames += 1;
    return { applied: true, touched };
  }

  /** Where an entity is drawn at `now`: its samples interpolated INTERP_DELAY_MS back. */
  drawnAt(entity, now) {
    const samples = entity.samples;
    const t = now - INTERP_DELAY_MS;
    if (samples.length === 0) return { x: entity.x, y: entity.y, o: entity.o };
    if (t <= samples[0].t) return samples[0];
    for (let i = samples.length - 1; i > 0; i -= 1) {
      const a = samples[i - 1];
      const b = samples[i];
      if (t >= a.t && t <= b.t) {
        const f = b.t > a.t ? (t - a.t) / (b.t - a.t) : 1;
        let dO = b.o - a.o;
        if (dO > Math.PI) dO -= 2 * Math.PI;
        if (dO < -Math.PI) dO += 2 * Math.PI;
        return { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f, o: a.o + dO * f };
      }
    }
    return samples[samples.length - 1];
  }
}
