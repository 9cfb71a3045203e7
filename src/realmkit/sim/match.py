"""Win rules of match spaces (battlegrounds, arenas, dungeon runs), judged once a tick.

A space's rule comes from the pack's first activity (by id) whose ``map`` is
the space's map; a map no activity uses (a continent) has none. Teams are
1-based; team 0 is "no team".

- ``score_limit``: a player killed by a player of another (non-zero) team
  scores 1 for the killer's team; the first team to reach the limit wins
  (a limit of 0 is never reached).
- ``last_team_standing``: once two teams or more have had members here, the
  one team left with a living member present wins; none left decides nothing.
- ``boss_killed``: the death of a creature of the map's highest-level spawned
  template wins for team 1 (a dungeon group; players without a team count as
  team 1).

Invariant: the decision is made once. ``MatchWon`` is emitted at most once
per space, and nothing is judged after it (``MatchState.winner`` is set).
"""

from __future__ import annotations

from realmkit.content.schema import ActivityDef
from realmkit.protocol.events import Died, Event, MatchWon
from realmkit.sim.combat import alive
from realmkit.sim.store import Kind
from realmkit.sim.world import World


def activity_of(world: World) -> ActivityDef | None:
    """The activity whose rule this space follows, or None."""
    # A pack has a handful of activities: a scan each tick costs nothing.
    found = [a for a in world.pack.activities.values() if a.map == world.map.id]
    return min(found, key=lambda a: a.id) if found else None


def note_team(world: World, team: int) -> None:
    """Remember that ``team`` had a member in the space."""
    seen = world.match.teams_seen
    if team and team not in seen:
        seen.append(team)


def judge(world: World, events: list[Event]) -> None:
    """Apply the space's win rule to this tick's ``events`` and who is alive."""
    state = world.match
    if state.winner:
        return
    activity = activity_of(world)
    if activity is None:
        return
    winner = 0
    if activity.win_rule == "score_limit":
        winner = _score(world, events, activity.score_limit)
    elif activity.win_rule == "last_team_standing":
        winner = _last_standing(world)
    else:
        winner = _boss(world, events)
    if winner:
        state.winner = winner
        world.events.append(MatchWon(winner))


def _score(world: World, events: list[Event], limit: int) -> int:
    scores = world.match.scores
    for event in events:
        if not isinstance(event, Died):
            continue
        victim = world.players.get(event.entity_id)
        killer = world.players.get(event.killer_id)
        if victim is None or killer is None or not killer.team or killer.team == victim.team:
            continue
        scores[killer.team] = scores.get(killer.team, 0) + 1
        if limit > 0 and scores[killer.team] >= limit:
            return killer.team
    return 0


def _last_standing(world: World) -> int:
    if len(world.match.teams_seen) < 2:
        return 0
    standing = {rec.team for rec in world.players.values() if rec.team and alive(world, rec.slot)}
    return standing.pop() if len(standing) == 1 else 0


def _boss(world: World, events: list[Event]) -> int:
    spawned = {s.template for s in world.pack.spawns_on(world.map.id)}
    templates = [world.pack.creatures[t] for t in spawned if t in world.pack.creatures]
    if not templates:
        return 0
    top = max(t.level for t in templates)
    bosses = {t.id for t in templates if t.level == top}
    st = world.store
    for event in events:
        if not isinstance(event, Died) or event.entity_id >= 0:
            continue
        slot = st.slot_of.get(event.entity_id)
        if (
            slot is not None
            and st.cols["kind"].item(slot) == Kind.CREATURE
            and int(st.cols["template"][slot]) in bosses
        ):
            return 1
    return 0
