"""Match spaces: teams, no friendly fire, and the battleground / arena / dungeon win rules."""

from __future__ import annotations

import msgspec
from sim_scenarios import CONTINENT, PACK, run_ticks

from realmkit.protocol.events import ActionRejected, Died, MatchWon
from realmkit.protocol.inputs import Attack
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState

DUNGEON, BATTLEGROUND, ARENA = 2, 3, 4
BOSS = 10  # Vesh the Hollow King, the highest-level creature in Gloomdeep Caverns


def _state(
    cid: int, map_id: int, x: float, y: float, hp: int = 1000, level: int = 60
) -> PlayerState:
    return PlayerState(cid, f"p{cid}", level, hp, map_id, x, y, 0.0, 0.0)


def _kill(space: Space, killer: int, victim: int) -> list[object]:
    """Have ``killer`` auto-attack ``victim`` until it dies; the events meanwhile."""
    space.receive_input(killer, Attack(victim))
    events: list[object] = []
    for _ in range(400):
        events += run_ticks(space, 1)
        if any(isinstance(e, Died) and e.entity_id == victim for e in events):
            return events
    raise AssertionError(f"{victim} never died")


def _wins(events: list[object]) -> list[int]:
    return [e.winner for e in events if isinstance(e, MatchWon)]


def _hp(space: Space, cid: int) -> int:
    return space.player_state(cid).hp


def _battleground(victims: int = 3) -> Space:
    """One alliance killer and ``victims`` one-hp horde players side by side."""
    space = Space(PACK, BATTLEGROUND, instance_id=7, seed=1)
    space.add_player(_state(1, BATTLEGROUND, 300.0, 150.0), space.spawn_team("alliance"))
    for i in range(victims):
        space.add_player(
            _state(10 + i, BATTLEGROUND, 301.0, 150.0, hp=1), space.spawn_team("horde")
        )
    return space


def _arena() -> Space:
    """A 2v2 in the Sunken Ring: gold at full health, green on one hp each."""
    space = Space(PACK, ARENA, instance_id=8, seed=1)
    for cid in (1, 2):
        space.add_player(_state(cid, ARENA, 40.0, 40.0), space.spawn_team("gold"))
    for cid in (3, 4):
        space.add_player(_state(cid, ARENA, 41.0, 40.0, hp=1), space.spawn_team("green"))
    return space


def test_spawn_points_name_their_team() -> None:
    """spawn_team gives each spawn point's team (0 where the map has none)."""
    assert Space(PACK, BATTLEGROUND).spawn_team("alliance") == 1
    assert Space(PACK, BATTLEGROUND).spawn_team("horde") == 2
    assert Space(PACK, ARENA).spawn_team("green") == 2
    assert Space(PACK, DUNGEON).spawn_team("entrance") == 0


def test_teammates_cannot_hurt_each_other_but_opponents_can() -> None:
    """On a PvP map an attack on a teammate is refused and does nothing; an opponent's lands."""
    space = Space(PACK, BATTLEGROUND, seed=1)
    space.add_player(_state(1, BATTLEGROUND, 300.0, 150.0), 1)
    space.add_player(_state(2, BATTLEGROUND, 301.0, 150.0), 1)
    space.add_player(_state(3, BATTLEGROUND, 302.0, 150.0), 2)
    full = _hp(space, 2)
    space.receive_input(1, Attack(2))
    events = run_ticks(space, 100)
    assert any(isinstance(e, ActionRejected) and e.reason == "not_hostile" for e in events)
    assert _hp(space, 2) == full
    space.receive_input(3, Attack(2))
    run_ticks(space, 100)
    assert _hp(space, 2) < full


def test_battleground_is_won_by_the_first_team_to_the_score_limit() -> None:
    """Each kill of an opponent scores for the killer's team; the third (the limit) wins."""
    assert PACK.activities[2].score_limit == 3
    space = _battleground()
    assert _wins(_kill(space, 1, 10) + _kill(space, 1, 11)) == []
    assert space.world.match.scores == {1: 2}
    assert _wins(_kill(space, 1, 12)) == [1]


def test_arena_is_won_when_the_other_team_is_all_dead() -> None:
    """Last team standing: one green death decides nothing, the second wins for gold."""
    space = _arena()
    assert _wins(_kill(space, 1, 3)) == []
    assert _wins(_kill(space, 2, 4)) == [1]


def test_arena_with_one_team_present_is_not_decided() -> None:
    """Until a second team has had members, the only team standing has not won."""
    space = Space(PACK, ARENA, seed=1)
    space.add_player(_state(1, ARENA, 40.0, 40.0), 1)
    assert _wins(run_ticks(space, 5)) == []
    space.add_player(_state(3, ARENA, 41.0, 40.0), 2)
    space.remove_player(3)  # the other side walked out: gold stands alone
    assert _wins(run_ticks(space, 1)) == [1]


def test_dungeon_run_is_won_when_the_boss_dies() -> None:
    """A trash kill decides nothing; the boss's death wins for team 1 (teamless players are 1)."""
    space = Space(PACK, DUNGEON, seed=1)
    st = space.world.store
    by_template = {int(st.cols["template"][st.slot_of[i]]): i for i in st.slot_of if i < 0}
    boss, trash = by_template[BOSS], by_template[9]
    for cid, creature in ((1, trash), (2, boss)):
        slot = st.slot_of[creature]
        x, y = float(st.cols["x"][slot]), float(st.cols["y"][slot])
        space.add_player(_state(cid, DUNGEON, x + 1.0, y, level=100, hp=100_000))
        st.cols["hp"][slot] = 1
    assert _wins(_kill(space, 1, trash)) == []
    assert _wins(_kill(space, 2, boss)) == [1]


def test_match_won_is_emitted_exactly_once() -> None:
    """After the decision nothing more is judged: later ticks and kills emit no MatchWon."""
    space = _battleground(victims=5)
    events: list[object] = []
    for victim in (10, 11, 12, 13, 14):
        events += _kill(space, 1, victim)
    events += run_ticks(space, 50)
    assert _wins(events) == [1]
    arena = _arena()
    events = _kill(arena, 1, 3) + _kill(arena, 2, 4) + run_ticks(arena, 50)
    assert _wins(events) == [1]


def test_continent_has_no_win_rule() -> None:
    """On a continent teams decide nothing, however the fighting goes."""
    spawn = PACK.spawns_on(CONTINENT)[0].at
    space = Space(PACK, CONTINENT, seed=1)
    space.add_player(_state(1, CONTINENT, spawn.x, spawn.y), 1)
    space.add_player(_state(2, CONTINENT, spawn.x + 1.0, spawn.y, hp=1), 2)
    events = run_ticks(space, 300)
    assert any(isinstance(e, Died) and e.entity_id == 2 for e in events)
    assert _wins(events) == []
    assert space.world.match.winner == 0


def test_teams_and_score_survive_snapshot_and_restore() -> None:
    """A restored space keeps teams (no friendly fire) and the score, and wins on the limit."""
    space = _battleground()
    space.add_player(_state(2, BATTLEGROUND, 300.0, 151.0), 1)
    _kill(space, 1, 10)
    _kill(space, 1, 11)
    moved = Space.restore(PACK, space.snapshot())
    assert {c: r.team for c, r in moved.world.players.items()} == {1: 1, 2: 1, 10: 2, 11: 2, 12: 2}
    moved.receive_input(2, Attack(1))
    assert any(isinstance(e, ActionRejected) for e in run_ticks(moved, 1))
    assert _wins(_kill(moved, 1, 12)) == [1]


def test_format_2_snapshot_restores_without_teams() -> None:
    """A snapshot from before teams is still read: nobody has a team, nothing is decided."""
    space = _battleground()
    raw = msgspec.msgpack.decode(space.snapshot())
    raw["format"] = 2
    del raw["match"]
    for rec in raw["players"]:
        del rec["team"]
    moved = Space.restore(PACK, msgspec.msgpack.encode(raw))
    assert {r.team for r in moved.world.players.values()} == {0}
    assert moved.world.match.winner == 0
