"""Parties keep their invariants in PostgreSQL: one party per character, five at most,
only the leader invites, invitations expire, a leader who leaves hands over."""

from __future__ import annotations

import asyncio

import pytest
from test_matchmaking_store import _players

from realmkit.errors import AlreadyInParty, NotFound, NotPartyLeader, PartyFull
from realmkit.store.matchmaking import TicketRepo
from realmkit.store.parties import PARTY_SIZE, PartyRepo
from realmkit.store.postgres import Database


async def test_invite_accept_and_leave_hand_the_party_over(db: Database) -> None:
    """Aria invites Bran and Cato; they join in order. Bran cannot invite (not the
    leader). Aria leaves: Bran leads; Cato leaves: a party of one is disbanded."""
    _, (aria, bran, cato) = await _players(db, 3)
    parties = PartyRepo(db)
    made = await parties.invite(aria.character_id, bran.character_id, 60)
    assert made.member_ids == [aria.character_id]
    await parties.invite(aria.character_id, cato.character_id, 60)
    await parties.accept(bran.character_id, made.party_id)
    party = await parties.accept(cato.character_id, made.party_id)
    assert party.leader_id == aria.character_id
    assert party.member_ids == [aria.character_id, bran.character_id, cato.character_id]
    assert await parties.of(cato.character_id) == party
    with pytest.raises(NotPartyLeader):
        await parties.invite(bran.character_id, aria.character_id, 60)
    with pytest.raises(AlreadyInParty):
        await parties.invite(aria.character_id, bran.character_id, 60)
    left = await parties.leave(aria.character_id)
    assert left.before == party
    assert left.after is not None
    assert (left.after.leader_id, left.after.member_ids) == (
        bran.character_id,
        [bran.character_id, cato.character_id],
    )
    last = await parties.leave(cato.character_id)
    assert last.after is None
    assert await parties.of(bran.character_id) is None
    with pytest.raises(NotFound):
        await parties.leave(bran.character_id)


async def test_invitations_are_needed_expire_and_can_be_declined(db: Database) -> None:
    """Joining needs a live invitation, once; a declined one is gone; a party of one
    is given up by joining another."""
    _, (aria, bran, cato) = await _players(db, 3)
    parties = PartyRepo(db)
    party = await parties.invite(aria.character_id, bran.character_id, 0.05)
    with pytest.raises(NotFound):
        await parties.accept(cato.character_id, party.party_id)  # never invited
    short = await db.fetchval(
        "SELECT expires_at <= now() + interval '0.05 seconds' FROM matchmaking.party_invites "
        "WHERE character_id = $1",
        bran.character_id,
    )
    assert short
    await db.fetchval(
        "UPDATE matchmaking.party_invites SET expires_at = now() - interval '1 second' "
        "WHERE character_id = $1 RETURNING 1",
        bran.character_id,
    )
    with pytest.raises(NotFound):
        await parties.accept(bran.character_id, party.party_id)
    await parties.invite(aria.character_id, cato.character_id, 60)
    assert (await parties.decline(cato.character_id, party.party_id)).party_id == party.party_id
    with pytest.raises(NotFound):
        await parties.accept(cato.character_id, party.party_id)
    with pytest.raises(NotFound):
        await parties.decline(cato.character_id, party.party_id)
    # Aria is alone in her party: Cato may invite her, and joining him gives hers up.
    theirs = await parties.invite(cato.character_id, aria.character_id, 60)
    joined = await parties.accept(aria.character_id, theirs.party_id)
    assert joined.member_ids == [cato.character_id, aria.character_id]
    assert await db.fetchval("SELECT count(*) FROM matchmaking.parties") == 1


async def test_a_party_holds_five_even_when_the_last_places_are_raced(db: Database) -> None:
    """Four invited players accept at once into a party of two: three get in, one is
    told the party is full."""
    _, players = await _players(db, 6)
    leader, first, *rest = players
    parties = PartyRepo(db)
    party = await parties.invite(leader.character_id, first.character_id, 60)
    await parties.accept(first.character_id, party.party_id)
    for p in rest:
        await parties.invite(leader.character_id, p.character_id, 60)
    outcomes = await asyncio.gather(
        *(parties.accept(p.character_id, party.party_id) for p in rest), return_exceptions=True
    )
    full = [o for o in outcomes if isinstance(o, PartyFull)]
    assert len(full) == len(rest) - (PARTY_SIZE - 2)
    final = await parties.of(leader.character_id)
    assert final is not None
    assert len(final.member_ids) == PARTY_SIZE
    assert await db.fetchval("SELECT count(*) FROM matchmaking.party_members") == PARTY_SIZE


async def test_cancelling_a_party_s_tickets_spares_those_in_a_match(db: Database) -> None:
    """``cancel_of`` cancels queued tickets with any of the members, and no other."""
    pool_id, (aria, bran, cato) = await _players(db, 3)
    tickets = TicketRepo(db)
    ours = await tickets.join(
        pool_id, "battleground", [aria.character_id, bran.character_id], [1, 1], ["", ""], 1500
    )
    theirs = await tickets.join(pool_id, "battleground", [cato.character_id], [1], [""], 1500)
    cancelled = await tickets.cancel_of([bran.character_id])
    assert [t.ticket_id for t in cancelled] == [ours.ticket_id]
    assert (await tickets.get(ours.ticket_id)).state == "cancelled"
    assert (await tickets.get(theirs.ticket_id)).state == "queued"
