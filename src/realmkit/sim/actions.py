"""Applying one client input to the world: move, attack, cast, release, say.

Inputs are untrusted. A move goes through the shared validator; anything
refused is answered (``Corrected`` for moves, ``ActionRejected`` for the
rest) and changes nothing else. Unknown ids, spells the player does not
know, dead casters and out-of-range targets are refusals, not errors.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from realmkit.protocol.events import ActionRejected, Chat, Corrected
from realmkit.protocol.inputs import Attack, Cast, ClientInput, Move, Release, Say
from realmkit.sim.combat import alive, damage, distance2, heal, hostile
from realmkit.sim.movement import check_move, normalize_orientation, start_track
from realmkit.sim.state import PlayerRecord
from realmkit.sim.store import FLAG_DEAD, Kind
from realmkit.sim.world import World

MAX_CHAT_CHARS: Final = 255


def apply_input(world: World, rec: PlayerRecord, inp: ClientInput) -> None:
    """Apply one input of ``rec``'s player at the current tick."""
    if isinstance(inp, Move):
        _move(world, rec, inp)
    elif isinstance(inp, Attack):
        _attack(world, rec, inp)
    elif isinstance(inp, Cast):
        _cast(world, rec, inp)
    elif isinstance(inp, Release):
        _release(world, rec)
    else:
        _say(world, rec, inp)


def _reject(world: World, rec: PlayerRecord, action: str, reason: str) -> None:
    world.events.append(ActionRejected(rec.character_id, action, reason))


def correct(world: World, rec: PlayerRecord, reason: str) -> None:
    """Tell the client where the server has it, and restart its movement track there."""
    c = world.store.cols
    s = rec.slot
    x, y, z, o = (float(c[k][s]) for k in ("x", "y", "z", "o"))
    rec.track = start_track(x, y, z, world.time_ms(world.tick))
    world.events.append(Corrected(rec.character_id, x, y, z, o, rec.last_seq, reason))


def _move(world: World, rec: PlayerRecord, mv: Move) -> None:
    if mv.seq <= rec.last_seq:
        return  # a replayed or reordered move: already superseded
    rec.last_seq = mv.seq
    if not alive(world, rec.slot):
        correct(world, rec, "dead")
        return
    verdict, track = check_move(
        world.move_rules,
        rec.track,
        mv.x,
        mv.y,
        mv.z,
        mv.o,
        mv.client_time_ms,
        world.time_ms(world.tick),
    )
    if verdict != "ok":
        correct(world, rec, verdict)
        return
    rec.track = track
    c = world.store.cols
    s = rec.slot
    c["x"][s], c["y"][s], c["z"][s] = mv.x, mv.y, mv.z
    c["o"][s] = normalize_orientation(mv.o)
    rec.dirty = True


def _attack(world: World, rec: PlayerRecord, at: Attack) -> None:
    if at.target == 0:
        rec.attack_target = 0
        return
    target = world.store.slot_of.get(at.target)
    if target is None:
        _reject(world, rec, "attack", "unknown_target")
    elif not hostile(world, rec.slot, target):
        _reject(world, rec, "attack", "not_hostile")
    elif not alive(world, rec.slot):
        _reject(world, rec, "attack", "dead")
    else:
        rec.attack_target = at.target


def _cast(world: World, rec: PlayerRecord, cast: Cast) -> None:
    spell = world.pack.spells.get(cast.spell)
    if spell is None or cast.spell not in world.pack.player.spells:
        _reject(world, rec, "cast", "unknown_spell")
        return
    if not alive(world, rec.slot):
        _reject(world, rec, "cast", "dead")
        return
    if rec.cooldowns.get(spell.id, 0) > world.tick:
        _reject(world, rec, "cast", "cooldown")
        return
    target = rec.slot if cast.target == 0 else world.store.slot_of.get(cast.target)
    if target is None or not alive(world, target):
        _reject(world, rec, "cast", "bad_target")
        return
    if spell.kind == "damage" and not hostile(world, rec.slot, target):
        _reject(world, rec, "cast", "not_hostile")
        return
    if spell.kind == "heal" and world.store.cols["kind"].item(target) != Kind.PLAYER:
        _reject(world, rec, "cast", "not_friendly")
        return
    if distance2(world, rec.slot, target) > spell.range * spell.range:
        _reject(world, rec, "cast", "out_of_range")
        return
    rec.cooldowns[spell.id] = world.tick + world.ticks(spell.cooldown)
    if spell.kind == "damage":
        damage(world, target, spell.amount, rec.slot)
    else:
        heal(world, target, spell.amount)


def _release(world: World, rec: PlayerRecord) -> None:
    c = world.store.cols
    s = rec.slot
    if not c["flags"][s] & FLAG_DEAD:
        _reject(world, rec, "release", "alive")
        return
    x, y = float(c["x"][s]), float(c["y"][s])
    yard = min(world.map.graveyards, key=lambda g: (g.at.x - x) ** 2 + (g.at.y - y) ** 2)
    c["x"][s], c["y"][s], c["z"][s], c["o"][s] = yard.at.x, yard.at.y, yard.at.z, yard.at.o
    c["flags"][s] = 0
    fraction = world.pack.player.release_hp_fraction
    c["hp"][s] = max(1, int(int(c["max_hp"][s]) * fraction))
    rec.dirty = True
    correct(world, rec, "release")


def clean_text(text: str) -> str:
    """Chat text without control characters, trimmed to ``MAX_CHAT_CHARS``."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return kept.strip()[:MAX_CHAT_CHARS]


def _say(world: World, rec: PlayerRecord, say: Say) -> None:
    text = clean_text(say.text)
    if not text:
        _reject(world, rec, "say", "empty")
        return
    c = world.store.cols
    recipients = world.hearers(float(c["x"][rec.slot]), float(c["y"][rec.slot]), say.yell)
    world.events.append(Chat(rec.character_id, rec.name, text, say.yell, recipients))
