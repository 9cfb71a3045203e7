"""The matchmakers' leader: one replica runs the queues and the matches.

Every replica tries to hold the session advisory lock ``MATCHMAKER_LOCK``
each round; the holder leads until it dies (PostgreSQL drops the lock with
its connection) and then another replica takes over within a round. On
taking over it reads everything from PostgreSQL: queued tickets fill its
in-memory queues (``realmkit.matchmaking``, oldest first), proposals are
sent again, accepted matches are started, running ones watched.

Each round (every ``[matchmaking] tick`` seconds, sooner when news arrives):
1. news: tickets queued, left or answered (``TicketChanged``) are read again;
   a proposal whose tickets all accepted starts, one with a decline is called
   off and the others go back to their old place;
2. matching: every queue forms its groups; each is written as a proposal
   (all its tickets queued -> proposed in one transaction, or none) and sent;
3. deadlines: a proposal not accepted in time is called off (the silent are
   cancelled); a match past its time limit ends as a draw;
4. every few seconds the queues are checked against PostgreSQL (a missed
   message delays a ticket, never loses it), and the tickets of players who
   left the world are cancelled (a proposal to one is called off at once, not
   at its deadline; the rest of a party hears it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nats.aio.subscription import Subscription

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import Conflict, NotFound, RealmkitError, UsageError
from realmkit.matchmaking.queue import Queue
from realmkit.matchmaking.rules import ActivityRules, Match, Ticket, WindowSettings, roles_from_text
from realmkit.nodes.leading import lead
from realmkit.nodes.matchmaker.matches import MatchRunner
from realmkit.nodes.packs import PackCache
from realmkit.protocol.client import MatchResult, QueueStatus
from realmkit.protocol.matchmaking import MatchDecided, TicketChanged, WhereInQueue
from realmkit.settings import MatchmakingSettings
from realmkit.store.matchmaking import MatchRepo, MatchRow, TicketRepo, TicketRow
from realmkit.store.postgres import Database, Leadership

log = logging.getLogger("realmkit.matchmaker")

MATCHMAKER_LOCK = "matchmaker-leader"
RECONCILE_SECONDS = 5.0

QueueKey = tuple[int, str]  # (pool_id, activity)


def as_ticket(row: TicketRow) -> Ticket:
    return Ticket(
        ticket_id=row.ticket_id,
        members=tuple(row.members),
        levels=tuple(row.levels),
        roles=roles_from_text(row.roles) if any(row.roles) else (),
        rating=row.rating,
        queued_at=row.queued_at.timestamp(),
    )


class MatchLeader:
    def __init__(
        self,
        node_name: str,
        db: Database,
        bus: NatsBus,
        packs: PackCache,
        settings: MatchmakingSettings,
    ) -> None:
        self.node_name = node_name
        self.db = db
        self.bus = bus
        self.settings = settings
        self.leadership = Leadership(db, MATCHMAKER_LOCK)
        self.runner = MatchRunner(db, bus, packs, settings)
        self.tickets = TicketRepo(db)
        self.matches = MatchRepo(db)
        self.window = WindowSettings(
            settings.window_start, settings.window_widening, settings.window_max
        )
        self.queues: dict[QueueKey, Queue] = {}
        self.queue_of: dict[int, QueueKey] = {}  # ticket id -> its queue, while queued
        self.proposals: dict[int, MatchRow] = {}
        self.accepted_at: dict[int, float] = {}
        self.running: dict[int, MatchRow] = {}
        self._news: set[int] = set()
        self._decided: list[MatchDecided] = []
        self._wake = asyncio.Event()
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconciled = 0.0

    # --- leadership ---------------------------------------------------------------

    async def run(self) -> None:
        """Try to lead and do the rounds while leading; forever (cancel to stop)."""

        async def pause() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.tick)
            self._wake.clear()

        await lead(
            self.leadership,
            self.node_name,
            gained=self._take_over,
            round=lambda: self.round(time.time()),
            lost=self._step_down,
            pause=pause,
        )

    async def _take_over(self) -> None:
        started = time.monotonic()
        self._subs = [
            await self.bus.subscribe(subjects.MATCHMAKER_NEWS, TicketChanged, self._on_news),
            await self.bus.serve(subjects.MATCHMAKER_WHERE, WhereInQueue, self._where),
            await self.bus.subscribe(subjects.SPACE_RESULTS, MatchDecided, self._on_decided),
        ]
        for row in await self.tickets.of_states(["queued"]):
            await self._enqueue(row)
        for match in await self.matches.live():
            if match.state == "proposed":
                self.proposals[match.match_id] = match
                self.runner.prepare(match)
                left = max(1.0, match.accept_deadline.timestamp() - time.time())
                await self.runner.propose_to(match, left)
            elif match.state == "accepted":
                self._start(match)
            else:
                self.running[match.match_id] = match
        self._reconciled = time.monotonic()
        log.info(
            "%s leads matchmaking: %d tickets queued, %d proposals, %d matches running "
            "(took over in %.3f s)",
            self.node_name,
            len(self.queue_of),
            len(self.proposals),
            len(self.running),
            time.monotonic() - started,
        )

    async def _step_down(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(RealmkitError, Exception):
                await sub.unsubscribe()
        self._subs = []
        for task in list(self._tasks):
            task.cancel()
        self.queues.clear()
        self.queue_of.clear()
        self.proposals.clear()
        self.running.clear()
        self.runner.forget()

    # --- inputs -----------------------------------------------------------------

    async def _on_news(self, message: TicketChanged) -> None:
        self._news.add(message.ticket_id)
        self._wake.set()

    async def _on_decided(self, message: MatchDecided) -> None:
        self._decided.append(message)
        self._wake.set()

    async def _where(self, request: WhereInQueue) -> QueueStatus:
        key = self.queue_of.get(request.ticket_id)
        if key is None:
            raise NotFound("queued ticket", request.ticket_id)
        queue = self.queues[key]
        return QueueStatus(
            key[1],
            "queued",
            request.ticket_id,
            queue.position(request.ticket_id) or 0,
            round(queue.estimated_wait(request.ticket_id, time.time()), 1),
        )

    # --- the round ----------------------------------------------------------------

    async def round(self, now: float) -> None:
        news, self._news = self._news, set()
        for ticket_id in sorted(news):
            await self._changed(await self.tickets.get(ticket_id))
        decided, self._decided = self._decided, []
        for d in decided:
            match = next((m for m in self.running.values() if m.instance_id == d.instance_id), None)
            if match is not None:
                await self._end(match, d.winner)
        for key, queue in list(self.queues.items()):
            for found in queue.match(now):
                await self._propose(key, found)
        for match in list(self.proposals.values()):
            if match.accept_deadline.timestamp() <= now:
                await self._expire(match)
        for match in list(self.running.values()):
            if match.ends_at is not None and match.ends_at.timestamp() <= now:
                await self._end(match, None)
        if time.monotonic() - self._reconciled > RECONCILE_SECONDS:
            await self._reconcile()

    async def _changed(self, row: TicketRow) -> None:
        """React to a ticket a replica changed (queued, left, answered)."""
        if row.state == "queued":
            if row.ticket_id not in self.queue_of:
                await self._enqueue(row)
            return
        self._dequeue(row.ticket_id)
        match = self.proposals.get(row.match_id or 0)
        if match is None:
            return
        if row.state == "cancelled":  # a decline, or left the queue: call it off
            await self._call_off(match, [row])
        elif row.state == "accepted" and await self.matches.accept(match.match_id):
            self.accepted_at[match.match_id] = time.monotonic()
            del self.proposals[match.match_id]
            self._start(match)

    async def _propose(self, key: QueueKey, found: Match) -> None:
        ids = [t.ticket_id for t in found.tickets()]
        for ticket_id in ids:
            self.queue_of.pop(ticket_id, None)
        try:
            match = await self.matches.propose(
                key[0],
                key[1],
                found.team_members(),
                {str(c): role for c, role in found.roles.items()},
                ids,
                self.settings.accept_timeout,
            )
        except Conflict:
            # One left meanwhile: the others go back where they were.
            for ticket_id in ids:
                row = await self.tickets.get(ticket_id)
                if row.state == "queued":
                    await self._enqueue(row)
            return
        self.proposals[match.match_id] = match
        self.runner.prepare(match)
        await self.runner.propose_to(match, self.settings.accept_timeout)

    async def _expire(self, match: MatchRow) -> None:
        self.proposals.pop(match.match_id, None)
        self.runner.forget(match.match_id)
        silent, requeued = await self.matches.expire(match.match_id)
        log.info("match %d not accepted in time: %d tickets dropped", match.match_id, len(silent))
        await self._requeue_and_tell(match, silent + requeued, requeued)

    async def _call_off(self, match: MatchRow, declined: list[TicketRow]) -> None:
        self.proposals.pop(match.match_id, None)
        self.runner.forget(match.match_id)
        requeued = await self.matches.cancel(match.match_id)
        await self._requeue_and_tell(match, declined + requeued, requeued)

    async def _requeue_and_tell(
        self, match: MatchRow, everyone: list[TicketRow], requeued: list[TicketRow]
    ) -> None:
        for row in requeued:
            await self._enqueue(row)
        members = [c for row in everyone for c in row.members]
        await self.runner.deliver(
            members, MatchResult(match.match_id, match.activity_id, "cancelled")
        )

    def _start(self, match: MatchRow) -> None:
        accepted_at = self.accepted_at.pop(match.match_id, time.monotonic())

        async def start() -> None:
            running = await self.runner.start(match, accepted_at)
            if running is None:
                for row in await self.tickets.of_match(match.match_id):
                    if row.state == "queued":
                        await self._enqueue(row)
            else:
                self.running[running.match_id] = running

        task = asyncio.create_task(start())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end(self, match: MatchRow, winner: int | None) -> None:
        self.running.pop(match.match_id, None)
        task = asyncio.create_task(self._finish(match, winner))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, match: MatchRow, winner: int | None) -> None:
        try:
            await self.runner.end(match, winner)
        except RealmkitError as exc:
            log.warning("match %d did not end cleanly: %s", match.match_id, exc.message)
            self.running[match.match_id] = match  # tried again next round

    # --- queues -------------------------------------------------------------------

    async def _enqueue(self, row: TicketRow) -> None:
        key = (row.pool_id, row.activity_id)
        queue = self.queues.get(key)
        if queue is None:
            _, activity = await self.runner.activity(row.pool_id, row.activity_id)
            rules = ActivityRules.from_activity(activity, key=activity.key, rated=activity.rated)
            queue = self.queues[key] = Queue(rules, self.window)
        if row.ticket_id in queue:
            return
        try:
            queue.requeue([as_ticket(row)])  # at its place by queued_at, new or not
        except UsageError as exc:  # can never be matched here: leave it be, say why
            log.warning("ticket %d not queued: %s", row.ticket_id, exc.message)
            return
        self.queue_of[row.ticket_id] = key

    def _dequeue(self, ticket_id: int) -> None:
        key = self.queue_of.pop(ticket_id, None)
        if key is not None:
            self.queues[key].remove(ticket_id)

    async def _reconcile(self) -> None:
        """Queues = the tickets PostgreSQL holds queued (a missed message is healed);
        nobody queues from outside the world."""
        self._reconciled = time.monotonic()
        for row in await self.tickets.cancel_offline():
            log.info("ticket %d cancelled: %s left the world", row.ticket_id, row.members)
            await self._changed(row)  # out of its queue, or its proposal called off
            if row.match_id is None:  # a called-off proposal told them already
                await self.runner.deliver(
                    row.members, QueueStatus(row.activity_id, "cancelled", row.ticket_id)
                )
        stored = {row.ticket_id: row for row in await self.tickets.of_states(["queued"])}
        for ticket_id in [t for t in self.queue_of if t not in stored]:
            self._dequeue(ticket_id)
        for ticket_id, row in stored.items():
            if ticket_id not in self.queue_of:
                await self._enqueue(row)
