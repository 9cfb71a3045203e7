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

What to do is decided by the book (``realmkit.matchmaking.book.MatchBook``,
no I/O): this driver feeds it what it reads and hears, carries out the
commands it returns - database writes, messages, tasks - in their order, and
feeds it back how each went.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from prometheus_client import CollectorRegistry

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus, Subscription
from realmkit.errors import Conflict, RealmkitError
from realmkit.lifecycle.ticket import TicketState
from realmkit.matchmaking.book import MatchBook
from realmkit.matchmaking.commands import (
    CallOff,
    Command,
    Deliver,
    End,
    Expire,
    Forget,
    LoadRules,
    MatchView,
    NotQueued,
    Offer,
    Prepare,
    Propose,
    Reread,
    Start,
    TicketView,
    TryAccept,
)
from realmkit.matchmaking.rules import ActivityRules, Ticket, WindowSettings, roles_from_text
from realmkit.nodes.leading import lead
from realmkit.nodes.matchmaker.matches import MatchRunner
from realmkit.nodes.matchmaker.metrics import (
    ACCEPTED,
    DECLINED,
    EXPIRED,
    REFUSED,
    MatchmakerMetrics,
)
from realmkit.nodes.packs import PackCache
from realmkit.protocol.client import QueueStatus
from realmkit.protocol.matchmaking import MatchDecided, TicketChanged, WhereInQueue
from realmkit.settings import MatchmakingSettings
from realmkit.store.locks import MATCHMAKER_LEADER
from realmkit.store.matchmaking import MatchRepo, MatchRow, TicketRepo, TicketRow
from realmkit.store.postgres import Database, Leadership

log = logging.getLogger("realmkit.matchmaker")

MATCHMAKER_LOCK = MATCHMAKER_LEADER


def ticket_view(row: TicketRow) -> TicketView:
    """The book's view of a ticket row."""
    ticket = Ticket(
        ticket_id=row.ticket_id,
        members=tuple(row.members),
        levels=tuple(row.levels),
        roles=roles_from_text(row.roles) if any(row.roles) else (),
        rating=row.rating,
        queued_at=row.queued_at.timestamp(),
    )
    return TicketView(ticket, row.pool_id, row.activity_id, row.state, row.match_id)


def match_view(row: MatchRow) -> MatchView:
    """The book's view of a match row."""
    return MatchView(
        match_id=row.match_id,
        pool_id=row.pool_id,
        activity_id=row.activity_id,
        state=row.state,
        teams=row.teams,
        roles=row.roles,
        instance_id=row.instance_id,
        accept_deadline=row.accept_deadline.timestamp(),
        ends_at=None if row.ends_at is None else row.ends_at.timestamp(),
    )


class MatchLeader:
    def __init__(
        self,
        node_name: str,
        db: Database,
        bus: NatsBus,
        packs: PackCache,
        settings: MatchmakingSettings,
        metrics: MatchmakerMetrics | None = None,
    ) -> None:
        self.node_name = node_name
        self.metrics = metrics or MatchmakerMetrics(CollectorRegistry())
        self.db = db
        self.bus = bus
        self.settings = settings
        self.leadership = Leadership(db, MATCHMAKER_LOCK)
        self.runner = MatchRunner(db, bus, packs, settings)
        self.tickets = TicketRepo(db)
        self.matches = MatchRepo(db)
        window = WindowSettings(
            settings.window_start, settings.window_widening, settings.window_max
        )
        self.book = MatchBook(window, settings.accept_timeout)
        self._news: set[int] = set()
        self._decided: list[MatchDecided] = []
        self._wake = asyncio.Event()
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

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
        for row in await self.tickets.of_states([TicketState.QUEUED]):
            await self._do(self.book.ticket_seen(ticket_view(row)))
        for match in await self.matches.live():
            await self._do(self.book.adopt(match_view(match), time.time()))
        self.book.took_over(time.time())
        log.info(
            "%s leads matchmaking: %d tickets queued, %d proposals, %d matches running "
            "(took over in %.3f s)",
            self.node_name,
            len(self.book.queue_of),
            len(self.book.proposals),
            len(self.book.running),
            time.monotonic() - started,
        )

    async def _step_down(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(RealmkitError, Exception):
                await sub.unsubscribe()
        self._subs = []
        for task in list(self._tasks):
            task.cancel()
        self.book.clear()
        self.runner.forget()

    # --- inputs -----------------------------------------------------------------

    async def _on_news(self, message: TicketChanged) -> None:
        self._news.add(message.ticket_id)
        self._wake.set()

    async def _on_decided(self, message: MatchDecided) -> None:
        self._decided.append(message)
        self._wake.set()

    async def _where(self, request: WhereInQueue) -> QueueStatus:
        return self.book.where(request.ticket_id, time.time())

    # --- the round ----------------------------------------------------------------

    async def round(self, now: float) -> None:
        news, self._news = self._news, set()
        for ticket_id in sorted(news):
            row = await self.tickets.get(ticket_id)
            await self._do(self.book.ticket_changed(ticket_view(row)))
        decided, self._decided = self._decided, []
        for d in decided:
            await self._do(self.book.decided(d.instance_id, d.winner))
        for key in self.book.queue_keys():
            await self._do(self.book.match_queue(key, now))
        for match in self.book.expired(now):
            await self._do(self.book.expire(match))
        await self._do(self.book.time_up(now))
        if self.book.reconcile_due(now):
            await self._reconcile()

    async def _reconcile(self) -> None:
        """Queues = the tickets PostgreSQL holds queued (a missed message is healed);
        nobody queues from outside the world."""
        for row in await self.tickets.cancel_offline():
            log.info("ticket %d cancelled: %s left the world", row.ticket_id, row.members)
            await self._do(self.book.logged_out(ticket_view(row)))
        stored = await self.tickets.of_states([TicketState.QUEUED])
        await self._do(self.book.reconcile([ticket_view(row) for row in stored]))

    # --- carrying out -------------------------------------------------------------

    async def _do(self, commands: list[Command]) -> None:
        """Carry the commands out in order, each one's follow-ups before the next."""
        for command in commands:
            await self._carry_out(command)

    async def _carry_out(self, command: Command) -> None:
        match command:
            case LoadRules(pool_id, activity):
                try:
                    _, found = await self.runner.activity(pool_id, activity)
                    rules = ActivityRules.from_activity(found, key=found.key, rated=found.rated)
                except BaseException:
                    self.book.rules_failed(pool_id, activity)
                    raise
                await self._do(self.book.rules_loaded(pool_id, activity, rules))
            case NotQueued(ticket_id, reason):
                log.warning("ticket %d not queued: %s", ticket_id, reason)
            case Propose():
                await self._propose(command)
            case Prepare(match):
                self.runner.prepare(match)
            case Offer(match, seconds_left):
                await self.runner.propose_to(match, seconds_left)
            case Forget(match_id):
                self.runner.forget(match_id)
            case TryAccept(match_id):
                if await self.matches.accept(match_id):
                    self.metrics.proposals.labels(ACCEPTED).inc()
                    await self._do(self.book.accepted(match_id, time.time()))
            case CallOff(match, declined):
                self.metrics.proposals.labels(DECLINED).inc()
                back = [ticket_view(r) for r in await self.matches.cancel(match.match_id)]
                await self._do(self.book.called_off(match, [*declined, *back], back))
            case Expire(match):
                self.metrics.proposals.labels(EXPIRED).inc()
                silent, requeued = await self.matches.expire(match.match_id)
                log.info(
                    "match %d not accepted in time: %d tickets dropped", match.match_id, len(silent)
                )
                again = [ticket_view(r) for r in requeued]
                everyone = [ticket_view(r) for r in silent] + again
                await self._do(self.book.called_off(match, everyone, again))
            case Start():
                self._spawn(self._start(command))
            case End():
                self._spawn(self._finish(command))
            case Deliver(members, message):
                await self.runner.deliver(members, message)
            case Reread(ticket_ids):
                for ticket_id in ticket_ids:
                    row = await self.tickets.get(ticket_id)
                    await self._do(self.book.ticket_seen(ticket_view(row)))

    async def _propose(self, command: Propose) -> None:
        try:
            match = await self.matches.propose(
                command.pool_id,
                command.activity,
                command.teams,
                command.roles,
                command.ticket_ids,
                self.settings.accept_timeout,
            )
        except Conflict:
            self.metrics.proposals.labels(REFUSED).inc()
            await self._do(self.book.proposal_refused(command))
            return
        for seconds in command.waited:
            self.metrics.queue_wait.labels(command.activity).observe(seconds)
        await self._do(self.book.proposed(match_view(match)))

    async def _start(self, command: Start) -> None:
        running = await self.runner.start(command.match, command.accepted_at)
        if running is None:
            await self._do(self.book.start_failed(command.match))
        else:
            self.metrics.matches_started.labels(running.activity_id).inc()
            self.book.started(match_view(running))

    async def _finish(self, command: End) -> None:
        try:
            await self.runner.end(command.match, command.winner)
        except RealmkitError as exc:
            log.warning("match %d did not end cleanly: %s", command.match.match_id, exc.message)
            self.book.end_failed(command.match)  # tried again next round
        else:
            self.book.ended(command.match.match_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
