"""Into a match and back: what the matchmakers' leader does with an accepted group.

Prepare: as soon as a group is proposed, an instance of the activity's map
owned by the pool (realm_id NULL) is requested from the orchestrators, so it
is loaded by the time everyone has accepted (a proposal called off leaves it
empty, and empty instances are stopped after ``empty_grace``).

The leader's book (``realmkit.matchmaking.book``) decides when; this module
only does it, and the asyncio tasks of the instances being prepared are
kept here (the book knows their match ids).

Start: the match becomes ``running`` in the prepared instance (a new one if
it is not ready: not prepared by this leader, or stopped meanwhile), and
every member is transferred in (``cross_realm``) at its team's spawn point.
The match space saves nobody's position or health (see the world runner): a
player's home stays where it queued from. A start that fails (no instance, or
a ticket no longer accepted) writes nothing: the book calls the match off.

End (the space's win rule decided, or the time ran out): the result and, for
rated activities, every member's new rating are written in one transaction;
members get ``match_result`` and are brought home (``ReturnHome``). A match
already finished by another leader is not finished twice (compare-and-set).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.content.schema import ActivityDef, ContentPack
from realmkit.errors import NotFound, RealmkitError
from realmkit.lifecycle.instance import InstanceState
from realmkit.matchmaking.commands import MatchView
from realmkit.matchmaking.ratings import RatingChange, new_ratings
from realmkit.nodes.matchmaker.delivery import deliver
from realmkit.nodes.packs import PackCache
from realmkit.protocol.client import MatchProposal, MatchResult, Outcome, QueueStatus
from realmkit.protocol.cluster import (
    InstanceInfo,
    MoveToInstance,
    Placement,
    RequestInstance,
    ReturnHome,
)
from realmkit.protocol.matchmaking import PlayerNews
from realmkit.settings import MatchmakingSettings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.matchmaking import MatchRepo, MatchRow, RatingRepo, TicketRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.matchmaker")


def _quietly(task: asyncio.Task[InstanceInfo]) -> None:
    """A prepared instance nobody waits for any more: its failure is not news."""
    if not task.cancelled():
        task.exception()


ORCHESTRATOR_PATIENCE = 15.0


class MatchRunner:
    def __init__(
        self, db: Database, bus: NatsBus, packs: PackCache, settings: MatchmakingSettings
    ) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.settings = settings
        self.matches = MatchRepo(db)
        self.tickets = TicketRepo(db)
        self.cluster = ClusterRepo(db)
        self.assignments = AssignmentRepo(db)
        self.instances = InstanceRepo(db)
        self._prepared: dict[int, asyncio.Task[InstanceInfo]] = {}

    async def activity(self, pool_id: int, key: str) -> tuple[ContentPack, ActivityDef]:
        pool = await self.cluster.pool(pool_id)
        game = await self.cluster.game(pool.game_id)
        pack = await self.packs.get(game.content_pack)
        found = pack.activity(key)
        if found is None:
            raise NotFound(f"activity of {pool.game_id}", key)
        return pack, found

    # --- telling players ------------------------------------------------------------

    async def deliver(self, character_ids: Sequence[int], message: PlayerNews) -> None:
        await deliver(self.bus, self.assignments, character_ids, message)

    async def propose_to(self, match: MatchView, seconds_left: float) -> None:
        for team_index, team in enumerate(match.teams, start=1):
            for character_id in team:
                role = match.roles.get(str(character_id), "")
                proposal = MatchProposal(
                    match.match_id, match.activity_id, seconds_left, team_index, role
                )
                await self.deliver([character_id], proposal)

    # --- prepare --------------------------------------------------------------------

    def prepare(self, match: MatchView) -> None:
        """Request the match's instance now, while its members decide."""
        task = asyncio.create_task(self._new_instance(match))
        task.add_done_callback(_quietly)
        self._prepared[match.match_id] = task

    def forget(self, match_id: int | None = None) -> None:
        """The proposal was called off (None: every one; this leader steps down)."""
        if match_id is None:
            self._prepared.clear()
        else:
            self._prepared.pop(match_id, None)

    async def _new_instance(self, match: MatchView) -> InstanceInfo:
        _, activity = await self.activity(match.pool_id, match.activity_id)
        pool = await self.cluster.pool(match.pool_id)
        return await self.bus.request_patiently(
            subjects.ORCHESTRATOR_REQUESTS,
            RequestInstance(pool.game_id, activity.map, pool.pool_id, None),
            InstanceInfo,
            within=ORCHESTRATOR_PATIENCE,
        )

    async def _instance(self, match: MatchView) -> InstanceInfo:
        """The prepared instance if it is ready, else a new one."""
        prepared = self._prepared.pop(match.match_id, None)
        if prepared is not None:
            try:
                info = await prepared
                if (await self.instances.get(info.instance_id)).state is InstanceState.READY:
                    return info
            except RealmkitError as exc:
                log.info("match %d: prepared instance failed: %s", match.match_id, exc.message)
        return await self._new_instance(match)

    # --- start ----------------------------------------------------------------------

    async def start(self, match: MatchView, accepted_at: float) -> MatchRow | None:
        """Instance, ``running``, everyone in; None if it could not start (nothing of
        it written; the book then calls it off). ``accepted_at``: epoch seconds."""
        try:
            pack, activity = await self.activity(match.pool_id, match.activity_id)
            info = await self._instance(match)
            limit = self.settings.match_time_limit or activity.duration
            running = await self.matches.start(
                match.match_id, info.instance_id, min(limit, activity.duration)
            )
        except RealmkitError as exc:
            log.warning("match %d could not start: %s", match.match_id, exc.message)
            return None
        await self._tell_in_match(match.match_id)
        moves = [
            self._bring(character_id, info.instance_id, pack.maps[activity.map].team_spawn(index))
            for index, team in enumerate(running.teams, start=1)
            for character_id in team
        ]
        arrived = sum(await asyncio.gather(*moves))
        seconds = time.time() - accepted_at
        log.info(
            "match %d (%s) running in instance %d: %d of %d players in after %.3f s",
            match.match_id,
            match.activity_id,
            info.instance_id,
            arrived,
            len(moves),
            seconds,
        )
        return running

    async def _tell_in_match(self, match_id: int) -> None:
        """Every member's ticket is ``in_match`` now: told before they are brought in
        (a client closes its proposal, its queue shows the match)."""
        try:
            for ticket in await self.tickets.of_match(match_id):
                status = QueueStatus(ticket.activity_id, ticket.state, ticket.ticket_id)
                await self.deliver(ticket.members, status)
        except RealmkitError as exc:
            log.warning("match %d: its players not told it started: %s", match_id, exc.message)

    async def _bring(self, character_id: int, instance_id: int, spawn: str) -> bool:
        try:
            # One attempt with a long timeout: a transfer is not to be asked twice.
            await self.bus.request(
                subjects.ORCHESTRATOR_REQUESTS,
                MoveToInstance(character_id, instance_id, spawn=spawn, cross_realm=True),
                Placement,
                timeout=ORCHESTRATOR_PATIENCE,
            )
            return True
        except RealmkitError as exc:
            log.warning("character %d not brought into match: %s", character_id, exc.message)
            return False

    # --- end ------------------------------------------------------------------------

    async def end(self, match: MatchView, winner: int | None) -> bool:
        """Record the result, tell the members, bring them home; False if another
        leader already did."""
        _, activity = await self.activity(match.pool_id, match.activity_id)
        members = [c for team in match.teams for c in team]
        before: dict[int, int] = {}
        changes: list[RatingChange] = []
        if activity.rated:
            before = await RatingRepo(self.db).of(members, activity.key)
            changes = new_ratings(match.teams, before, winner)
        if not await self.matches.finish(match.match_id, winner, changes, activity.key):
            return False
        log.info("match %d ended: winner %s", match.match_id, winner or "none (draw)")
        new = {c.character_id: c.rating for c in changes}
        for team_index, team in enumerate(match.teams, start=1):
            outcome: Outcome = (
                "draw" if winner is None else ("win" if winner == team_index else "loss")
            )
            for character_id in team:
                rating = new.get(character_id, 0)
                change = rating - before[character_id] if character_id in new else 0
                result = MatchResult(
                    match.match_id, match.activity_id, outcome, winner or 0, rating, change
                )
                await self.deliver([character_id], result)
        if match.instance_id is not None:
            await asyncio.gather(*(self._home(c, match.instance_id) for c in members))
        return True

    async def _home(self, character_id: int, instance_id: int) -> None:
        try:
            await self.bus.request(
                subjects.ORCHESTRATOR_REQUESTS,
                ReturnHome(character_id, instance_id),
                Placement,
                timeout=ORCHESTRATOR_PATIENCE,
            )
        except RealmkitError as exc:  # left the match (logged out, disconnected): home already
            log.info("character %d not brought home: %s", character_id, exc.message)
