"""Damage, healing, death and loot: the rules every hit goes through.

- A hit on a dead or evading target does nothing (evading creatures are immune).
- A creature at home that is hit turns on the attacker; the first player to
  hit it "tags" it and gets its loot.
- Death: hp 0, ``FLAG_DEAD``; a creature goes DEAD until its respawn time and
  rolls its loot table for the tagger (if the tagger is still in the space).
- Every granted item takes a fresh id from the pool exactly once; without an
  id it waits in ``world.pending`` and is granted when a block arrives.
"""

from __future__ import annotations

import numpy as np

from realmkit.protocol.events import Died, LootGranted
from realmkit.sim.cell import hit_ghost
from realmkit.sim.creatures import Ai, set_state, start_chase
from realmkit.sim.loot import PendingGrant, roll
from realmkit.sim.store import FLAG_COMBAT, FLAG_DEAD, FLAG_EVADING, GHOST_OFFSET, Kind
from realmkit.sim.world import World


def hostile(world: World, attacker: int, target: int) -> bool:
    """Whether ``attacker`` may hurt ``target`` (players fight players only on PvP maps,
    and never their own team)."""
    c = world.store.cols
    kinds = c["kind"]
    # .item(): a numpy scalar compared with an IntEnum member takes microseconds.
    mine_kind, their_kind = kinds.item(attacker), kinds.item(target)
    if attacker == target or their_kind == Kind.FREE:
        return False
    ghost = their_kind > Kind.CREATURE
    if ghost:
        their_kind -= GHOST_OFFSET
    if mine_kind == Kind.PLAYER and their_kind == Kind.PLAYER:
        if ghost:  # in another cell: its team is not known here (match maps have no cells)
            return world.pvp
        mine = world.players[int(c["id"][attacker])].team
        return world.pvp and not (mine and mine == world.players[int(c["id"][target])].team)
    return bool(mine_kind != their_kind)


def alive(world: World, slot: int) -> bool:
    c = world.store.cols
    # .item(): a numpy scalar compared with an IntEnum member takes microseconds.
    return c["kind"].item(slot) != Kind.FREE and not (c["flags"].item(slot) & FLAG_DEAD)


def distance2(world: World, a: int, b: int) -> float:
    c = world.store.cols
    dx = float(c["x"][a] - c["x"][b])
    dy = float(c["y"][a] - c["y"][b])
    return dx * dx + dy * dy


def damage(world: World, target: int, amount: int, attacker: int) -> None:
    """Apply ``amount`` damage from ``attacker`` to ``target`` (slots)."""
    c = world.store.cols
    if not alive(world, target) or c["flags"][target] & FLAG_EVADING:
        return
    if c["kind"].item(target) > Kind.CREATURE:
        # A ghost: its owner cell applies the hit, this copy only shows it.
        if world.cell is not None:
            hit_ghost(world, world.cell, target, amount, attacker)
        return
    # A neighbouring cell's player (a ghost here) tags what it hits like one of ours.
    attacker_is_player = c["kind"].item(attacker) in (Kind.PLAYER, Kind.GHOST_PLAYER)
    if c["kind"].item(target) == Kind.CREATURE:
        if c["ai"].item(target) == Ai.HOME:
            one = np.array([target], dtype=np.int64)
            start_chase(world, one, np.array([attacker], dtype=np.int64))
        if c["tagger"][target] == 0 and attacker_is_player:
            c["tagger"][target] = c["id"][attacker]
    else:
        _touch(world, target)
    hp = max(0, int(c["hp"][target]) - amount)
    c["hp"][target] = hp
    if hp == 0:
        _die(world, target, attacker)


def heal(world: World, target: int, amount: int) -> None:
    """Restore up to ``amount`` hp to a living target."""
    c = world.store.cols
    if not alive(world, target):
        return
    c["hp"][target] = min(int(c["max_hp"][target]), int(c["hp"][target]) + amount)
    if c["kind"].item(target) == Kind.PLAYER:
        _touch(world, target)


def _touch(world: World, slot: int) -> None:
    world.players[int(world.store.cols["id"][slot])].dirty = True


def _die(world: World, slot: int, killer: int) -> None:
    c = world.store.cols
    c["flags"][slot] = (c["flags"][slot] | FLAG_DEAD) & ~np.uint8(FLAG_COMBAT)
    killer_id = int(c["id"][killer]) if c["kind"].item(killer) != Kind.FREE else 0
    entity_id = int(c["id"][slot])
    world.events.append(
        Died(entity_id, killer_id, float(c["x"][slot]), float(c["y"][slot]), float(c["z"][slot]))
    )
    if c["kind"].item(slot) == Kind.PLAYER:
        world.players[entity_id].attack_target = 0
        return
    set_state(world, np.array([slot], dtype=np.int64), Ai.DEAD)
    c["target"][slot] = -1
    tpl = world.pack.creatures[int(c["template"][slot])]
    c["respawn_at"][slot] = world.tick + world.ticks(tpl.respawn)
    tagger = int(c["tagger"][slot])
    if tpl.loot_table is None or not _player_in_view(world, tagger):
        return
    for template_id, count in roll(world.pack.loot_tables[tpl.loot_table], world.rng):
        world.pending.append(PendingGrant(tagger, template_id, count, entity_id))
    grant_pending(world)


def _player_in_view(world: World, character_id: int) -> bool:
    """A player of this space, or of a neighbouring cell seen here (loot belongs to
    the creature's owner, which rolls it for a tagger across the border too)."""
    if character_id in world.players:
        return True
    slot = world.store.slot_of.get(character_id)
    return slot is not None and world.store.cols["kind"].item(slot) == Kind.GHOST_PLAYER


def grant_pending(world: World) -> None:
    """Give ids to waiting grants, in order, while the pool has ids."""
    granted = 0
    for grant in world.pending:
        item_id = world.pool.take()
        if item_id is None:
            break
        granted += 1
        world.events.append(
            LootGranted(
                grant.character_id, item_id, grant.template_id, grant.count, grant.source_id
            )
        )
        # The owner may have left since the roll; the event still carries the grant.
        rec = world.players.get(grant.character_id)
        if rec is not None:
            rec.granted_items.append(item_id)
            rec.dirty = True
    del world.pending[:granted]
    world.ask_for_ids_if_low()


def auto_attacks(world: World) -> None:
    """Every player with an attack target swings when ready and in reach."""
    c = world.store.cols
    rules = world.pack.player
    reach2 = rules.melee_range * rules.melee_range
    swing = world.ticks(rules.attack_speed)
    for rec in world.players.values():
        if rec.attack_target == 0:
            continue
        target = world.store.slot_of.get(rec.attack_target)
        if target is None or not alive(world, target) or not alive(world, rec.slot):
            rec.attack_target = 0
            c["flags"][rec.slot] &= ~np.uint8(FLAG_COMBAT)
            continue
        if rec.next_swing > world.tick or distance2(world, rec.slot, target) > reach2:
            continue
        rec.next_swing = world.tick + swing
        c["flags"][rec.slot] |= FLAG_COMBAT
        damage(world, target, rules.melee_damage, rec.slot)
