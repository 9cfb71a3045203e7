"""Space behaviour: players in and out, creatures, combat, death, portals, chat, inputs."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest
from sim_scenarios import CONTINENT, PACK, run_ticks

from realmkit.content.schema import Point, SpawnDef
from realmkit.errors import AlreadyExists, IllegalTransition, InstanceFull, NotFound, TickOutOfOrder
from realmkit.protocol.events import (
    ActionRejected,
    Chat,
    Corrected,
    Died,
    ItemIdsNeeded,
    LootGranted,
    PortalReached,
)
from realmkit.protocol.frames import FrameArrays
from realmkit.protocol.inputs import Attack, Cast, Move, Release, Say
from realmkit.sim.creatures import Ai, set_state
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState
from realmkit.sim.store import FLAG_DEAD, FLAG_EVADING

WOLF = 1
HOME = Point(x=500.0, y=500.0, z=0.0)
LONE_WOLF = msgspec.structs.replace(
    PACK, spawns=[SpawnDef(map=CONTINENT, template=WOLF, at=HOME, count=1, wander_radius=0.0)]
)


def _state(cid: int = 1, x: float = 500.0, y: float = 530.0, hp: int = 140) -> PlayerState:
    return PlayerState(cid, f"p{cid}", 3, hp, CONTINENT, x, y, 0.0, 0.0)


def _space(**kw: int) -> Space:
    return Space(LONE_WOLF, CONTINENT, seed=3, item_ids=(5000, 6000), **kw)


def _wolf(space: Space) -> int:
    return next(i for i in space.world.store.slot_of if i < 0)


def _col(space: Space, name: str, entity_id: int) -> float:
    st = space.world.store
    return float(st.cols[name][st.slot_of[entity_id]])


def test_add_then_remove_returns_the_state() -> None:
    """A player's state comes back from remove_player as it went in (no time passed)."""
    space = _space()
    state = _state()
    space.add_player(state)
    assert space.remove_player(1) == state


def test_duplicate_full_and_unknown_players_are_refused() -> None:
    """Adding twice, beyond max_players, or removing a stranger raise typed errors."""
    space = Space(LONE_WOLF, 4, seed=1)  # the arena holds 6
    for cid in range(1, 7):
        space.add_player(PlayerState(cid, "a", 1, 100, 4, 40.0, 40.0, 0.0, 0.0))
    with pytest.raises(AlreadyExists):
        space.add_player(PlayerState(1, "a", 1, 100, 4, 40.0, 40.0, 0.0, 0.0))
    with pytest.raises(InstanceFull):
        space.add_player(PlayerState(7, "a", 1, 100, 4, 40.0, 40.0, 0.0, 0.0))
    with pytest.raises(NotFound):
        space.remove_player(99)


def test_bad_saved_position_starts_at_the_spawn_point() -> None:
    """A saved position outside the map (or NaN) is replaced by the map's first spawn point."""
    space = _space()
    space.add_player(PlayerState(1, "a", 1, 100, CONTINENT, math.nan, 1.0, 0.0, 0.0))
    start = PACK.maps[CONTINENT].spawn_points[0].at
    assert (space.player_state(1).x, space.player_state(1).y) == (start.x, start.y)


def test_ticks_must_increase() -> None:
    """Stepping with a tick that is not after the last one is refused."""
    space = _space()
    space.step(0)
    space.step(5)
    with pytest.raises(TickOutOfOrder):
        space.step(5)


def test_creature_aggroes_chases_and_hits() -> None:
    """A player inside the aggro radius is chased and hit for the template's damage."""
    space = _space()
    space.add_player(_state(y=510.0))
    run_ticks(space, 1)
    wolf = _wolf(space)
    assert _col(space, "ai", wolf) == Ai.CHASE
    run_ticks(space, 60)
    assert space.player_state(1).hp < 140


def test_creature_leashes_home_and_heals() -> None:
    """A chased player who runs beyond the leash is abandoned; the creature returns, healed."""
    space = _space()
    space.add_player(_state(y=510.0))
    space.receive_input(1, Attack(_wolf(space)))
    run_ticks(space, 1)
    wolf = _wolf(space)
    st = space.world.store
    # Teleport the player away (as a server placement would), far beyond the leash.
    st.cols["y"][st.slot_of[1]] = 1500.0
    st.cols["hp"][st.slot_of[wolf]] = 10
    events = run_ticks(space, 2)
    assert _col(space, "ai", wolf) in (Ai.CHASE, Ai.EVADE)
    events += run_ticks(space, 400)
    assert _col(space, "ai", wolf) == Ai.HOME
    assert (_col(space, "x", wolf), _col(space, "y", wolf)) == (HOME.x, HOME.y)
    assert _col(space, "hp", wolf) == PACK.creatures[WOLF].hp
    assert not any(isinstance(e, Died) for e in events)


def test_evading_creature_is_immune() -> None:
    """Damage to an evading creature does nothing."""
    space = _space()
    space.add_player(_state(y=540.0))
    wolf = _wolf(space)
    slot = space.world.store.slot_of[wolf]
    space.world.store.cols["ai"][slot] = Ai.EVADE
    space.world.store.cols["flags"][slot] = FLAG_EVADING
    space.receive_input(1, Cast(1, wolf))
    run_ticks(space, 1)
    assert _col(space, "hp", wolf) == PACK.creatures[WOLF].hp


def test_killing_a_creature_grants_loot_and_it_respawns() -> None:
    """A killed creature dies (event), its loot goes to the tagger with fresh ids, it respawns."""
    space = _space()
    space.add_player(_state(y=520.0))
    wolf = _wolf(space)
    space.receive_input(1, Attack(wolf))
    events: list[object] = []
    for tick in range(400):
        if tick % 70 == 0:
            space.receive_input(1, Cast(2, 0))  # keep ourselves alive
        if tick % 61 == 0:
            space.receive_input(1, Cast(1, wolf))
        events += run_ticks(space, 1)
        if any(isinstance(e, Died) and e.entity_id == wolf for e in events):
            break
    deaths = [e for e in events if isinstance(e, Died)]
    assert [(d.entity_id, d.killer_id) for d in deaths] == [(wolf, 1)]
    assert _col(space, "flags", wolf) == FLAG_DEAD
    loot = [e for e in events if isinstance(e, LootGranted)]
    assert all(5000 <= e.item_id < 6000 and e.character_id == 1 for e in loot)
    assert space.player_state(1).granted_items == [e.item_id for e in loot]
    frame = FrameArrays.of(space.frames_to_send()[-1])
    assert wolf not in frame.ids.tolist()  # dead creatures are not shown
    run_ticks(space, int(PACK.creatures[WOLF].respawn * 20) + 1)
    assert _col(space, "ai", wolf) == Ai.HOME
    assert _col(space, "hp", wolf) == PACK.creatures[WOLF].hp


def test_player_death_and_release_to_graveyard() -> None:
    """A player killed by a creature dies, refuses actions, and release revives at a graveyard."""
    space = _space()
    space.add_player(_state(y=505.0, hp=5))
    events = run_ticks(space, 80)
    assert any(isinstance(e, Died) and e.entity_id == 1 for e in events)
    space.receive_input(1, Cast(1, _wolf(space)))
    space.receive_input(1, Release())
    events = run_ticks(space, 1)
    assert any(isinstance(e, ActionRejected) and e.reason == "dead" for e in events)
    yard = next(e for e in events if isinstance(e, Corrected) and e.reason == "release")
    names = {(g.at.x, g.at.y) for g in PACK.maps[CONTINENT].graveyards}
    assert (yard.x, yard.y) in names
    assert space.player_state(1).hp == int(PACK.player.base_hp + 2 * PACK.player.hp_per_level) // 2


def test_portal_is_reported_once_on_entry() -> None:
    """Walking into a portal area emits PortalReached once, not every tick inside."""
    portal = PACK.maps[CONTINENT].portals[0]
    x, y = portal.area.min_x - 0.3, portal.area.min_y + 5.0
    space = _space()
    space.add_player(_state(x=x, y=y))
    space.receive_input(1, Move(x, y, 0.0, 0.0, 0, 1))
    space.receive_input(1, Move(x + 0.6, y, 0.0, 0.0, 200, 2))
    events = run_ticks(space, 5)
    reached = [e for e in events if isinstance(e, PortalReached)]
    assert reached == [PortalReached(1, portal.id, portal.to_map, portal.to_spawn)]


def test_say_reaches_players_in_range_and_yell_further() -> None:
    """Say reaches players within say range; yell within yell range; text is cleaned."""
    space = _space()
    space.add_player(_state(1, x=100.0, y=100.0))
    space.add_player(_state(2, x=130.0, y=100.0))
    space.add_player(_state(3, x=300.0, y=100.0))
    space.receive_input(1, Say("hi\x00 there"))
    space.receive_input(1, Say("HELLO", yell=True))
    space.receive_input(1, Say("\x01\x02"))
    events = run_ticks(space, 1)
    chats = [e for e in events if isinstance(e, Chat)]
    assert [(c.text, c.recipients) for c in chats] == [("hi there", [1, 2]), ("HELLO", [1, 2, 3])]
    assert any(isinstance(e, ActionRejected) and e.reason == "empty" for e in events)


def test_bad_inputs_are_refused_without_effect() -> None:
    """NaN moves, unknown targets and spells, and stale seqs change nothing but are answered."""
    space = _space()
    space.add_player(_state())
    before = space.player_state(1)
    space.receive_input(1, Move(math.nan, 1.0, 1.0, 0.0, 0, 5))
    space.receive_input(1, Move(before.x + 1, before.y, 0.0, 0.0, 10, 3))  # stale seq
    space.receive_input(1, Attack(123456))
    space.receive_input(1, Cast(999, 0))
    space.receive_input(1, Attack(1))  # yourself
    events = run_ticks(space, 1)
    reasons = sorted(getattr(e, "reason", "") for e in events)
    assert reasons == ["not_finite", "not_hostile", "unknown_spell", "unknown_target"]
    after = space.player_state(1)
    assert (after.x, after.y) == (before.x, before.y)
    assert not space.receive_input(42, Release())  # a stranger's input is dropped


def test_frame_lists_what_each_observer_sees() -> None:
    """The frame has one row per seen entity and each observer's visible rows and ack."""
    space = _space()
    space.add_player(_state(1, y=530.0))
    space.add_player(_state(2, x=900.0, y=900.0))
    space.receive_input(1, Move(500.0, 530.0, 0.0, 0.0, 0, 9))
    run_ticks(space, 1)
    a = FrameArrays.of(space.frames_to_send()[-1])
    assert a.observers.tolist() == [1, 2]
    assert a.acks.tolist() == [9, 0]
    seen_by_1 = set(a.ids[a.visible_of(0)].tolist())
    assert seen_by_1 == {_wolf(space)}
    assert a.visible_of(1).size == 0
    assert a.ids[a.selves].tolist() == [1, 2]


def test_creature_state_machine_refuses_illegal_moves() -> None:
    """The creature transition table refuses e.g. DEAD -> CHASE."""
    space = _space()
    slot = np.array([space.world.store.slot_of[_wolf(space)]], dtype=np.int64)
    space.world.store.cols["ai"][slot] = Ai.DEAD
    with pytest.raises(IllegalTransition):
        set_state(space.world, slot, Ai.CHASE)


def test_low_id_pool_asks_for_a_block() -> None:
    """A space without item ids asks the node for a block at once."""
    space = Space(LONE_WOLF, CONTINENT, seed=1)
    assert space.events_to_emit() == [ItemIdsNeeded(1024)]
