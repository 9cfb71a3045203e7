"""Parties, served by every matchmaker replica: invite, answer, leave.

A leader invites a character that is in the world, by name (``Name-Realm`` on
another realm of its pool: a party may span the pool's realms, whose battlegrounds,
arenas and dungeon finder are shared);
the invitee hears ``party_invitation`` and has ``INVITATION_SECONDS`` to
answer. Every member hears the party's new state (``party``) when it
changes, the one asking as its reply. A change of members cancels the
party's tickets that are not in a match yet: the group that queued is not
the group any more.
"""

from __future__ import annotations

import logging

from realmkit.bus.nats import NatsBus
from realmkit.errors import InvalidInput
from realmkit.nodes.matchmaker.delivery import deliver, deliver_to_others
from realmkit.nodes.matchmaker.service import QueueService
from realmkit.protocol.client import PartyInvitation, PartyMember, PartyState
from realmkit.protocol.matchmaking import AnswerInvitation, InviteToParty, PartyRequest
from realmkit.store.characters import CharacterRepo
from realmkit.store.parties import PartyRepo, PartyRow
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.matchmaker")

INVITATION_SECONDS = 60.0


def party_state(party: PartyRow | None) -> PartyState:
    if party is None:
        return PartyState()
    members = [PartyMember(m.character_id, m.name, m.level, m.realm) for m in party.members]
    return PartyState(party.party_id, party.leader_id, members)


class PartyService:
    def __init__(self, db: Database, bus: NatsBus, queues: QueueService) -> None:
        self.bus = bus
        self.queues = queues
        self.parties = PartyRepo(db)
        self.characters = CharacterRepo(db)
        self.assignments = AssignmentRepo(db)

    async def handle(self, request: PartyRequest) -> PartyState:
        if isinstance(request, InviteToParty):
            return await self.invite(request)
        if isinstance(request, AnswerInvitation):
            return await self.answer(request)
        left = await self.parties.leave(request.character_id)
        await self.queues.cancel_for(left.before.member_ids)
        log.info("character %d left party %d", request.character_id, left.before.party_id)
        await self._tell(left.before.member_ids, request.character_id, left.after)
        return PartyState()

    async def invite(self, request: InviteToParty) -> PartyState:
        inviter = await self.characters.get(request.character_id)
        invitee = await self.characters.named_in_pool(inviter.realm_id, request.name)
        if invitee.character_id == inviter.character_id:
            raise InvalidInput("name", "you cannot invite yourself")
        await self.queues.in_world(invitee.character_id, invitee.name)
        party = await self.parties.invite(
            inviter.character_id, invitee.character_id, INVITATION_SECONDS
        )
        # As the invitee says it: Name-Realm when the inviter plays on another realm.
        me = next(m for m in party.members if m.character_id == inviter.character_id)
        said = me.name if invitee.realm_id == inviter.realm_id else f"{me.name}-{me.realm}"
        invitation = PartyInvitation(party.party_id, said, INVITATION_SECONDS)
        await deliver(self.bus, self.assignments, [invitee.character_id], invitation)
        return party_state(party)

    async def answer(self, request: AnswerInvitation) -> PartyState:
        if not request.accept:
            await self.parties.decline(request.character_id, request.party_id)
            return party_state(await self.parties.of(request.character_id))
        party = await self.parties.accept(request.character_id, request.party_id)
        await self.queues.cancel_for(party.member_ids)
        log.info("character %d joined party %d", request.character_id, party.party_id)
        await self._tell(party.member_ids, request.character_id, party)
        return party_state(party)

    async def _tell(self, members: list[int], asking: int, party: PartyRow | None) -> None:
        message = party_state(party)
        await deliver_to_others(self.bus, self.assignments, members, asking, message)
