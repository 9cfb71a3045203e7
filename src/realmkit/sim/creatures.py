"""Creature behaviour: wander, aggro, chase, attack, leash back, die, respawn.

The behaviour is a state machine over the ``ai`` column, stepped for all
creatures at once with numpy. Its rules:

    HOME   wanders within ``wander`` of home; an alive player within ``aggro``
           (or a hit) -> CHASE that player
    CHASE  runs to the target and hits it every ``swing_ticks``; the target
           gone or dead, or home farther than ``leash`` -> EVADE
    EVADE  runs home, immune and ignoring players; at home, full hp -> HOME
    DEAD   invisible until ``respawn_at``; then at home, full hp -> HOME

Death (CHASE -> DEAD) is decided by ``combat``; every change goes through
``set_state``, which refuses a move the table does not list.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import numpy as np
from numpy.typing import NDArray

from realmkit.errors import IllegalTransition
from realmkit.sim.grid import candidate_pairs
from realmkit.sim.store import FLAG_COMBAT, FLAG_DEAD, FLAG_EVADING, Kind
from realmkit.sim.world import CREATURE_REACH, CREATURE_STOP, World

Slots = NDArray[np.int64]


class Ai(IntEnum):
    HOME = 0
    CHASE = 1
    EVADE = 2
    DEAD = 3


TRANSITIONS: Final[dict[Ai, frozenset[Ai]]] = {
    Ai.HOME: frozenset({Ai.CHASE}),
    Ai.CHASE: frozenset({Ai.EVADE, Ai.DEAD}),
    Ai.EVADE: frozenset({Ai.HOME}),
    Ai.DEAD: frozenset({Ai.HOME}),
}

_LEGAL = np.zeros((len(Ai), len(Ai)), dtype=bool)
for _old, _news in TRANSITIONS.items():
    for _new in _news:
        _LEGAL[_old, _new] = True

WALK_FACTOR: Final = 0.4  # wandering is a stroll
EVADE_FACTOR: Final = 1.25  # leashing back outruns the player a little
WANDER_EVERY_S: Final = 6.0  # mean seconds between two wander legs


def set_state(world: World, slots: Slots, new: Ai) -> None:
    """Move creatures to ``new``; raises IllegalTransition for a move not in TRANSITIONS."""
    if slots.size == 0:
        return
    ai = world.store["ai"]
    old = ai[slots]
    bad = ~_LEGAL[old, new]
    if bad.any():
        raise IllegalTransition("creature", Ai(int(old[bad][0])).name, new.name)
    ai[slots] = new


def step_creatures(world: World) -> list[tuple[int, int]]:
    """Advance every creature one tick; returns the hits to apply as (creature, target)."""
    st = world.store
    creatures = st.live(Kind.CREATURE).astype(np.int64)
    if creatures.size == 0:
        return []
    _respawn(world, creatures)
    _drop_lost_targets(world, creatures)
    _aggro(world, creatures)
    hits = _chase(world, creatures)
    _evade(world, creatures)
    _wander(world, creatures)
    return hits


def _in_state(world: World, creatures: Slots, state: Ai) -> Slots:
    chosen: Slots = creatures[world.store["ai"][creatures] == state]
    return chosen


def _respawn(world: World, creatures: Slots) -> None:
    st = world.store
    due = _in_state(world, creatures, Ai.DEAD)
    due = due[st["respawn_at"][due] <= world.tick]
    if due.size == 0:
        return
    set_state(world, due, Ai.HOME)
    for name in ("x", "y", "z"):
        st[name][due] = st[f"home_{name}"][due]
    st["dest_x"][due] = st["home_x"][due]
    st["dest_y"][due] = st["home_y"][due]
    st["hp"][due] = st["max_hp"][due]
    st["flags"][due] = 0
    st["tagger"][due] = 0
    st["target"][due] = -1


def _drop_lost_targets(world: World, creatures: Slots) -> None:
    st = world.store
    chase = _in_state(world, creatures, Ai.CHASE)
    if chase.size == 0:
        return
    target = st["target"][chase].astype(np.int64)
    safe = np.where(target >= 0, target, 0)
    # A player that crossed into a neighbouring cell is a ghost here: still a target.
    kind = st["kind"][safe]
    player = (kind == Kind.PLAYER) | (kind == Kind.GHOST_PLAYER)
    ok = (target >= 0) & player & ((st["flags"][safe] & FLAG_DEAD) == 0)
    dx = st["x"][chase] - st["home_x"][chase]
    dy = st["y"][chase] - st["home_y"][chase]
    ok &= dx * dx + dy * dy <= st["leash"][chase] ** 2
    lost = chase[~ok]
    if lost.size == 0:
        return
    set_state(world, lost, Ai.EVADE)
    st["target"][lost] = -1
    st["tagger"][lost] = 0
    st["flags"][lost] = (st["flags"][lost] & ~np.uint8(FLAG_COMBAT)) | FLAG_EVADING


def _aggro(world: World, creatures: Slots) -> None:
    st = world.store
    home = _in_state(world, creatures, Ai.HOME)
    home = home[st["aggro"][home] > 0]
    # Players of a neighbouring cell near the border (ghosts here) are seen too: a
    # creature at a border turns on them as on its own side's.
    players = np.concatenate([st.live(Kind.PLAYER), st.live(Kind.GHOST_PLAYER)]).astype(np.int64)
    players = players[(st["flags"][players] & FLAG_DEAD) == 0]
    if home.size == 0 or players.size == 0:
        return
    x, y = st["x"], st["y"]
    cell = float(st["aggro"][home].max())
    qi, pj = candidate_pairs(x[home], y[home], x[players], y[players], cell)
    c, p = home[qi], players[pj]
    dx = x[p] - x[c]
    dy = y[p] - y[c]
    d2 = dx * dx + dy * dy
    close = d2 <= st["aggro"][c] ** 2
    c, p, d2 = c[close], p[close], d2[close]
    if c.size == 0:
        return
    order = np.lexsort((p, d2, c))
    c, p = c[order], p[order]
    first = np.ones(c.size, dtype=bool)
    first[1:] = c[1:] != c[:-1]
    start_chase(world, c[first], p[first])


def start_chase(world: World, creatures: Slots, targets: Slots) -> None:
    """HOME creatures turn on ``targets`` (one per creature)."""
    st = world.store
    set_state(world, creatures, Ai.CHASE)
    st["target"][creatures] = targets
    st["flags"][creatures] |= FLAG_COMBAT
    st["next_swing"][creatures] = world.tick


def _move_toward(
    world: World,
    slots: Slots,
    tx: NDArray[np.float64],
    ty: NDArray[np.float64],
    step: NDArray[np.float64],
    stop: float,
) -> NDArray[np.float64]:
    """Move ``slots`` up to ``step`` toward (tx, ty), ``stop`` short; returns the distance left."""
    st = world.store
    x, y = st["x"][slots], st["y"][slots]
    dx, dy = tx - x, ty - y
    dist = np.sqrt(dx * dx + dy * dy)
    travel = np.clip(dist - stop, 0.0, step)
    moving = travel > 0
    scale = np.divide(travel, dist, out=np.zeros_like(dist), where=dist > 0)
    st["x"][slots] = x + dx * scale
    st["y"][slots] = y + dy * scale
    o = np.arctan2(dy, dx) % (2 * np.pi)
    st["o"][slots] = np.where(moving, o, st["o"][slots])
    left: NDArray[np.float64] = dist - travel
    return left


def _chase(world: World, creatures: Slots) -> list[tuple[int, int]]:
    st = world.store
    chase = _in_state(world, creatures, Ai.CHASE)
    if chase.size == 0:
        return []
    target = st["target"][chase].astype(np.int64)
    step = st["speed"][chase] / world.tick_rate
    left = _move_toward(world, chase, st["x"][target], st["y"][target], step, CREATURE_STOP)
    ready = (left <= CREATURE_REACH) & (st["next_swing"][chase] <= world.tick)
    hitters = chase[ready]
    st["next_swing"][hitters] = world.tick + st["swing_ticks"][hitters]
    return list(zip(hitters.tolist(), target[ready].tolist(), strict=True))


def _evade(world: World, creatures: Slots) -> None:
    st = world.store
    evade = _in_state(world, creatures, Ai.EVADE)
    if evade.size == 0:
        return
    step = st["speed"][evade] * EVADE_FACTOR / world.tick_rate
    left = _move_toward(world, evade, st["home_x"][evade], st["home_y"][evade], step, 0.0)
    home = evade[left <= 1e-9]
    st["x"][home] = st["home_x"][home]
    st["y"][home] = st["home_y"][home]
    set_state(world, home, Ai.HOME)
    st["hp"][home] = st["max_hp"][home]
    st["flags"][home] &= ~np.uint8(FLAG_EVADING)
    st["dest_x"][home] = st["home_x"][home]
    st["dest_y"][home] = st["home_y"][home]


def _wander(world: World, creatures: Slots) -> None:
    st = world.store
    home = _in_state(world, creatures, Ai.HOME)
    home = home[st["wander"][home] > 0]
    if home.size == 0:
        return
    rolls = world.rng.random((3, home.size))
    arrived = (st["x"][home] == st["dest_x"][home]) & (st["y"][home] == st["dest_y"][home])
    leave = home[arrived & (rolls[0] < 1.0 / (WANDER_EVERY_S * world.tick_rate))]
    if leave.size:
        pick = arrived & (rolls[0] < 1.0 / (WANDER_EVERY_S * world.tick_rate))
        r = st["wander"][leave] * np.sqrt(rolls[1][pick])
        a = rolls[2][pick] * 2 * np.pi
        st["dest_x"][leave] = st["home_x"][leave] + r * np.cos(a)
        st["dest_y"][leave] = st["home_y"][leave] + r * np.sin(a)
        b = world.map.bounds
        st["dest_x"][leave] = np.clip(st["dest_x"][leave], b.min_x, b.max_x)
        st["dest_y"][leave] = np.clip(st["dest_y"][leave], b.min_y, b.max_y)
    walking = home[~arrived]
    if walking.size == 0:
        return
    step = st["speed"][walking] * WALK_FACTOR / world.tick_rate
    left = _move_toward(world, walking, st["dest_x"][walking], st["dest_y"][walking], step, 0.0)
    done = walking[left <= 1e-9]
    # Snap exactly onto the destination so "arrived" is an exact comparison.
    st["x"][done] = st["dest_x"][done]
    st["y"][done] = st["dest_y"][done]
