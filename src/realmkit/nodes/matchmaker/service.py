"""What every matchmaker replica answers: joining, leaving, status, proposal answers.

A party queues as one ticket, by its leader; its other members are told of
every change of the ticket (``queue_status``), as the one asking is answered.

Any replica serves any request (one NATS queue group); tickets are written to
PostgreSQL before the reply, so a matchmaker restart or failover loses none.
The leader is told (``TicketChanged``) and reads the ticket itself. Queue
positions live in the leader's memory: a replica asks it, and answers
position 0 ("unknown for a moment") if no leader answers quickly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.content.schema import ActivityDef
from realmkit.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPartyLeader,
    RealmkitError,
    RealmUnavailable,
)
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.ticket import TicketState
from realmkit.nodes.matchmaker.delivery import deliver_to_others
from realmkit.nodes.packs import PackCache
from realmkit.protocol.client import QueueStatus
from realmkit.protocol.matchmaking import (
    AnswerProposal,
    AskQueueStatus,
    JoinQueue,
    LeaveQueue,
    QueueRequest,
    TicketChanged,
    WhereInQueue,
)
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.matchmaking import RatingRepo, TicketRepo, TicketRow
from realmkit.store.parties import PartyRepo
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Realm, RealmStatus

log = logging.getLogger("realmkit.matchmaker")

WHERE_TIMEOUT = 0.5
ROLES = frozenset({"tank", "healer", "damage"})


class QueueService:
    def __init__(self, db: Database, bus: NatsBus, packs: PackCache) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.tickets = TicketRepo(db)
        self.cluster = ClusterRepo(db)
        self.characters = CharacterRepo(db)
        self.assignments = AssignmentRepo(db)
        self.parties = PartyRepo(db)

    async def handle(self, request: QueueRequest) -> QueueStatus:
        if isinstance(request, JoinQueue):
            return await self.join(request)
        if isinstance(request, LeaveQueue):
            ticket = await self.tickets.leave(request.character_id, request.activity)
            await self._tell_leader(ticket)
            await self._tell_members(ticket, request.character_id, _status(ticket))
            return _status(ticket)
        if isinstance(request, AskQueueStatus):
            found = await self.tickets.live_of(request.character_id, request.activity)
            if found is None:
                return QueueStatus(request.activity, "none")
            return await self._where(found)
        return await self.answer(request)

    async def join(self, request: JoinQueue) -> QueueStatus:
        """A ticket for the character and its party (it must lead it) in its realm's pool."""
        if not set(request.roles) <= ROLES:
            raise InvalidInput("roles", f"roles are {sorted(ROLES)}")
        leader = await self.characters.get(request.character_id)
        realm = await self.cluster.realm(leader.realm_id)
        if realm.status is not RealmStatus.ONLINE:
            raise RealmUnavailable(realm.realm_id, realm.name, realm.status.value)
        activity = await self._activity(realm, request.activity)
        members = [leader]
        party = await self.parties.of(leader.character_id)
        if party is not None and party.leader_id != leader.character_id:
            raise NotPartyLeader(leader.character_id, party.party_id)
        for member_id in party.member_ids[1:] if party is not None else []:
            member = await self.characters.get(member_id)
            if (await self.cluster.realm(member.realm_id)).pool_id != realm.pool_id:
                raise Conflict(f"{member.name} plays on a realm of another pool")
            members.append(member)
        if len(members) > max(t.size for t in activity.teams):
            raise InvalidInput("party", f"at most {max(t.size for t in activity.teams)} players")
        for member in members:
            await self.in_world(member.character_id, member.name)
        ids = [m.character_id for m in members]
        rating = 1500
        if activity.rated:
            ratings = await RatingRepo(self.db).of(ids, activity.key)
            rating = round(sum(ratings.values()) / len(ratings))
        roles = ["|".join(sorted(set(request.roles)))] + [""] * (len(members) - 1)
        ticket = await self.tickets.join(
            realm.pool_id, activity.key, ids, [m.level for m in members], roles, rating
        )
        log.info(
            "ticket %d: %s queued for %s (pool %d)",
            ticket.ticket_id,
            ids,
            activity.key,
            realm.pool_id,
        )
        await self._tell_leader(ticket)
        status = await self._where(ticket)
        await self._tell_members(ticket, leader.character_id, status)
        return status

    async def cancel_for(self, character_ids: Sequence[int]) -> None:
        """A party changed: its tickets not in a match yet are cancelled, and every
        member is told."""
        for ticket in await self.tickets.cancel_of(character_ids):
            log.info("ticket %d cancelled: its party changed", ticket.ticket_id)
            await self._tell_leader(ticket)
            await self._tell_members(ticket, 0, _status(ticket))

    async def answer(self, request: AnswerProposal) -> QueueStatus:
        ticket = await self.tickets.answer(request.match_id, request.character_id, request.accept)
        await self._tell_leader(ticket)
        return _status(ticket)

    async def _activity(self, realm: Realm, key: str) -> ActivityDef:
        game = await self.cluster.game(realm.game_id)
        pack = await self.packs.get(game.content_pack)
        found = pack.activity(key)
        if found is None:
            keys = sorted(a.key for a in pack.activities.values())
            raise NotFound(f"activity of {realm.game_id} (one of {keys})", key)
        return found

    async def in_world(self, character_id: int, name: str) -> None:
        """``Conflict`` unless the character is in the world (playing now)."""
        a = await self.assignments.get(character_id)
        if a is None or a.state is AssignmentState.OFFLINE:
            raise Conflict(f"{name} is not in the world", character_id=character_id)

    async def _tell_members(self, ticket: TicketRow, asking: int, status: QueueStatus) -> None:
        await deliver_to_others(self.bus, self.assignments, ticket.members, asking, status)

    async def _tell_leader(self, ticket: TicketRow) -> None:
        try:
            await self.bus.publish(subjects.MATCHMAKER_NEWS, TicketChanged(ticket.ticket_id))
        except RealmkitError as exc:  # the leader reconciles from PostgreSQL anyway
            log.warning("leader not told about ticket %d: %s", ticket.ticket_id, exc.message)

    async def _where(self, ticket: TicketRow) -> QueueStatus:
        if ticket.state is not TicketState.QUEUED:
            return _status(ticket)
        try:
            return await self.bus.request(
                subjects.MATCHMAKER_WHERE,
                WhereInQueue(ticket.ticket_id),
                QueueStatus,
                timeout=WHERE_TIMEOUT,
            )
        except RealmkitError:
            return _status(ticket)


def _status(ticket: TicketRow) -> QueueStatus:
    return QueueStatus(ticket.activity_id, ticket.state, ticket.ticket_id)
