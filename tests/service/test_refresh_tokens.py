"""Refresh-token lines in PostgreSQL (``store.accounts.RefreshRepo``): a logout or a
reuse racing a rotation of the same line never leaves a token of it usable."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

import pytest

from realmkit.errors import BadCredentials
from realmkit.store.accounts import AccountRepo, RefreshRepo
from realmkit.store.postgres import Database

TTL = 3600.0


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _usable(repo: RefreshRepo, token: str) -> bool:
    try:
        return await repo.rotate(_hash(token), _hash(token + "'")) is not None
    except BadCredentials:
        return False


@pytest.mark.parametrize("round_", range(8))
async def test_a_logout_racing_a_refresh_revokes_the_token_it_issued(
    db: Database, round_: int
) -> None:
    account = await AccountRepo(db).create(f"jaina{round_}", "h")
    repo = RefreshRepo(db)
    await repo.issue(account.account_id, secrets.token_bytes(16), _hash("first"), TTL)
    await asyncio.gather(
        repo.rotate(_hash("first"), _hash("second")),
        repo.revoke(_hash("first")),
        return_exceptions=True,
    )
    assert not await _usable(repo, "second")
    assert not await _usable(repo, "first")


@pytest.mark.parametrize("round_", range(8))
async def test_a_copy_used_while_its_successor_is_refreshed_ends_the_whole_line(
    db: Database, round_: int
) -> None:
    """A thief refreshes the successor while the owner presents the used token: the
    line is revoked, including whatever the thief's refresh issued."""
    account = await AccountRepo(db).create(f"thrall{round_}", "h")
    repo = RefreshRepo(db)
    await repo.issue(account.account_id, secrets.token_bytes(16), _hash("one"), TTL)
    assert await repo.rotate(_hash("one"), _hash("two")) == account.account_id
    await asyncio.gather(
        repo.rotate(_hash("two"), _hash("three")),  # the thief
        repo.rotate(_hash("one"), _hash("other")),  # the owner, with the used token
        return_exceptions=True,
    )
    assert not await _usable(repo, "three")
    assert not await _usable(repo, "two")


async def test_a_logout_waits_for_a_rotation_under_way_and_revokes_what_it_issued(
    db: Database,
) -> None:
    """A rotation holds its line's lock from its first read to its commit: a logout
    that comes meanwhile waits, then revokes the successor the rotation inserted (a
    logout that did not wait would revoke the line as it was, and the successor
    would live on)."""
    account = await AccountRepo(db).create("sylvanas", "h")
    repo = RefreshRepo(db)
    family = secrets.token_bytes(16)
    await repo.issue(account.account_id, family, _hash("held"), TTL)
    async with db.transaction() as conn:  # a rotation under way, between its steps
        assert await RefreshRepo._lock_line(conn, _hash("held")) == family
        logout = asyncio.create_task(repo.revoke(_hash("held")))
        await asyncio.sleep(0.2)  # the logout has had its chance to run (it must wait)
        assert not logout.done()
        await conn.execute(
            "INSERT INTO auth.refresh_tokens (token_hash, account_id, family, expires_at) "
            "VALUES ($1, $2, $3, now() + interval '1 hour')",
            _hash("successor"),
            account.account_id,
            family,
        )
    assert await asyncio.wait_for(logout, 10.0)
    assert not await _usable(repo, "successor")
