"""Accounts (``auth.accounts``). Passwords arrive already hashed; never log them."""

from __future__ import annotations

from datetime import timedelta

from realmkit.errors import AlreadyExists, BadCredentials, NotFound
from realmkit.store.postgres import Database, translated
from realmkit.store.records import Account, row


class AccountRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, username: str, password_hash: str) -> Account:
        """A new account; ``AlreadyExists`` if the name is taken (case-insensitive)."""
        conflicts = {"accounts_username_key": lambda: AlreadyExists("account", username)}
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO auth.accounts (username, password_hash) VALUES ($1, $2) "
                    "RETURNING *",
                    username,
                    password_hash,
                )
        return row(Account, record)

    async def by_name(self, username: str) -> Account:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM auth.accounts WHERE lower(username) = lower($1)", username
            )
        if record is None:
            raise NotFound("account", username)
        return row(Account, record)


# A used token is kept this long after its use, so that its reuse is still seen.
KEEP_USED = timedelta(days=1)


class RefreshRepo:
    """Refresh tokens (``auth.refresh_tokens``, migration 0012), by their hashes only."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(self, account_id: int, family: bytes, token_hash: bytes, ttl: float) -> None:
        """A new token of ``family`` for the account, valid ``ttl`` seconds; the
        account's expired tokens, and those used more than a day ago, go."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM auth.refresh_tokens WHERE account_id = $1 AND "
                "(expires_at < now() OR used_at < (now() - $2::interval))",
                account_id,
                KEEP_USED,
            )
            await conn.execute(
                "INSERT INTO auth.refresh_tokens (token_hash, account_id, family, expires_at) "
                "VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
                token_hash,
                account_id,
                family,
                ttl,
            )

    async def rotate(self, token_hash: bytes, next_hash: bytes, ttl: float) -> int | None:
        """Use a token: it is marked used and ``next_hash`` issued in its family; the
        account's id. ``BadCredentials`` if it is unknown, expired, revoked or its
        account not active; None if it was used before: its whole family is revoked
        then (committed, so the caller refuses it after the fact)."""
        async with self.db.transaction() as conn:
            found = await conn.fetchrow(
                "SELECT t.account_id, t.family, t.used_at, t.revoked_at, "
                "t.expires_at < now() AS expired, a.status "
                "FROM auth.refresh_tokens t JOIN auth.accounts a USING (account_id) "
                "WHERE t.token_hash = $1 FOR UPDATE OF t",
                token_hash,
            )
            if found is None or found["revoked_at"] is not None or found["expired"]:
                raise BadCredentials()
            if found["used_at"] is not None:
                # Used twice: someone holds a copy. Nobody of this family logs in now.
                await conn.execute(
                    "UPDATE auth.refresh_tokens SET revoked_at = now() "
                    "WHERE family = $1 AND revoked_at IS NULL",
                    found["family"],
                )
                return None
            if found["status"] != "active":
                raise BadCredentials()
            await conn.execute(
                "UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1",
                token_hash,
            )
            await conn.execute(
                "INSERT INTO auth.refresh_tokens (token_hash, account_id, family, expires_at) "
                "VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
                next_hash,
                found["account_id"],
                found["family"],
                ttl,
            )
            return int(found["account_id"])

    async def revoke(self, token_hash: bytes) -> bool:
        """Revoke the family of a token (a logout); False if the token is unknown."""
        async with self.db.transaction() as conn:
            family = await conn.fetchval(
                "SELECT family FROM auth.refresh_tokens WHERE token_hash = $1", token_hash
            )
            if family is None:
                return False
            await conn.execute(
                "UPDATE auth.refresh_tokens SET revoked_at = now() "
                "WHERE family = $1 AND revoked_at IS NULL",
                family,
            )
            return True
