"""Tickets: signed by a login replica, checked by gateways with the public key only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.auth.tickets import (
    Audience,
    TicketSigner,
    load_public_key,
    public_key_bytes,
    unverified_key_id,
    verify,
)
from realmkit.errors import TicketExpired, TicketInvalid

NOW = 1_000_000.0
signer = TicketSigner()
public = load_public_key(public_key_bytes(signer.public_key))


def _world_ticket(**overrides: float) -> str:
    return signer.issue(
        Audience.WORLD,
        account_id=3,
        character_id=77,
        realm_id=1,
        now=overrides.get("now", NOW),
        ttl=overrides.get("ttl"),
    )


def test_a_ticket_verifies_with_the_published_key() -> None:
    """The claims come back intact when checked with the public key alone."""
    ticket = _world_ticket()
    assert unverified_key_id(ticket) == signer.key_id
    claims = verify(ticket, public, Audience.WORLD, now=NOW + 1)
    assert (claims.account_id, claims.character_id, claims.realm_id) == (3, 77, 1)
    assert claims.expires_at == NOW + 60


def test_another_replicas_key_does_not_verify() -> None:
    """A ticket signed by a different key pair is refused as forged."""
    other = TicketSigner(key_id=signer.key_id)
    with pytest.raises(TicketInvalid):
        verify(_world_ticket(), other.public_key, Audience.WORLD, now=NOW)


def test_changed_claims_break_the_signature() -> None:
    """Editing the claims (another character) invalidates the ticket."""
    ticket = _world_ticket()
    other = signer.issue(Audience.WORLD, account_id=3, character_id=78, realm_id=1, now=NOW)
    spliced = other.split(".")[0] + "." + ticket.split(".")[1]
    with pytest.raises(TicketInvalid):
        verify(spliced, public, Audience.WORLD, now=NOW)


def test_expired_ticket_is_refused() -> None:
    """A world ticket is good for 60 s and not a moment longer."""
    ticket = _world_ticket()
    verify(ticket, public, Audience.WORLD, now=NOW + 59.9)
    with pytest.raises(TicketExpired):
        verify(ticket, public, Audience.WORLD, now=NOW + 60)


def test_session_ticket_cannot_enter_the_world() -> None:
    """A session token presented as a world ticket is refused (audiences differ)."""
    session = signer.issue(Audience.SESSION, account_id=3, now=NOW)
    with pytest.raises(TicketInvalid, match="session"):
        verify(session, public, Audience.WORLD, now=NOW)


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.hex() + "." + b.hex()))
def test_garbage_is_refused_cleanly(garbage: str) -> None:
    """Any string that is not a ticket raises TicketInvalid, never anything else."""
    with pytest.raises(TicketInvalid):
        verify(garbage, public, Audience.WORLD, now=NOW)
