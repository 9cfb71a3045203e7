"""Accounts (``auth.accounts``). Passwords arrive already hashed; never log them."""

from __future__ import annotations

from realmkit.errors import AlreadyExists, BadCredentials, NotFound
from realmkit.store.postgres import ConnectionLike, Database, translated
from realmkit.store.records import Account, AccountRole, row


class AccountRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, username: str, password_hash: str, role: AccountRole = AccountRole.PLAYER
    ) -> Account:
        """A new account; ``AlreadyExists`` if the name is taken (case-insensitive)."""
        conflicts = {"accounts_username_key": lambda: AlreadyExists("account", username)}
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO auth.accounts (username, password_hash, role) "
                    "VALUES ($1, $2, $3) RETURNING *",
                    username,
                    password_hash,
                    role.value,
                )
        return row(Account, record)

    async def get(self, account_id: int) -> Account:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM auth.accounts WHERE account_id = $1", account_id
            )
        if record is None:
            raise NotFound("account", account_id)
        return row(Account, record)

    async def set_role(self, username: str, role: AccountRole) -> tuple[Account, bool]:
        """Give an account a role; the account, and whether its role changed."""
        async with self.db.transaction() as conn:
            before = await conn.fetchval(
                "SELECT role FROM auth.accounts WHERE lower(username) = lower($1) FOR UPDATE",
                username,
            )
            if before is None:
                raise NotFound("account", username)
            record = await conn.fetchrow(
                "UPDATE auth.accounts SET role = $2 WHERE lower(username) = lower($1) RETURNING *",
                username,
                role.value,
            )
        return row(Account, record), before != role.value

    async def with_role(self, role: AccountRole) -> list[Account]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM auth.accounts WHERE role = $1 ORDER BY lower(username)",
                role.value,
            )
        return [row(Account, r) for r in records]

    async def by_name(self, username: str) -> Account:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM auth.accounts WHERE lower(username) = lower($1)", username
            )
        if record is None:
            raise NotFound("account", username)
        return row(Account, record)


# Live refresh-token lines per account (devices); a login past that ends the oldest.
MAX_LINES = 10
# Used tokens kept per line, to see a copy used again (older ones are forgotten).
KEEP_USED = 50


class RefreshRepo:
    """Refresh tokens (``auth.refresh_tokens``, migration 0012), by their hashes only.

    A password login starts a *line* (a family) that ends ``ttl`` seconds later
    whatever is refreshed (no sliding expiry); each use marks a token used and
    issues the next of its line with the same end. Everything that changes a line
    holds its advisory lock first, so a logout, a reuse and a rotation of one line
    never interleave (a revocation always sees the token a rotation just issued).
    Rows are bounded: at most ``MAX_LINES`` live lines per account and
    ``KEEP_USED`` used tokens per line; expired rows go at the account's next
    login or refresh.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(self, account_id: int, family: bytes, token_hash: bytes, ttl: float) -> None:
        """A new line for the account, its first token valid ``ttl`` seconds."""
        async with self.db.transaction() as conn:
            await self._tidy(conn, account_id)
            await conn.execute(
                "INSERT INTO auth.refresh_tokens (token_hash, account_id, family, expires_at) "
                "VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
                token_hash,
                account_id,
                family,
                ttl,
            )
            # The oldest lines past MAX_LINES end (their live tokens revoked).
            await conn.execute(
                "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE token_hash IN ("
                "  SELECT token_hash FROM auth.refresh_tokens WHERE account_id = $1 "
                "  AND used_at IS NULL AND revoked_at IS NULL "
                "  ORDER BY created_at DESC OFFSET $2)",
                account_id,
                MAX_LINES,
            )

    async def rotate(self, token_hash: bytes, next_hash: bytes) -> int | None:
        """Use a token: it is marked used and ``next_hash`` issued in its line, ending
        when the line ends; the account's id. ``BadCredentials`` if it is unknown,
        expired, revoked or its account not active; None if it was used before: its
        whole line is revoked then (committed, so the caller refuses it after)."""
        async with self.db.transaction() as conn:
            family = await self._lock_line(conn, token_hash)
            if family is None:
                raise BadCredentials()
            found = await conn.fetchrow(
                "SELECT t.account_id, t.used_at, t.revoked_at, t.expires_at, "
                "t.expires_at < now() AS expired, a.status "
                "FROM auth.refresh_tokens t JOIN auth.accounts a USING (account_id) "
                "WHERE t.token_hash = $1",
                token_hash,
            )
            if found is None or found["revoked_at"] is not None or found["expired"]:
                raise BadCredentials()
            if found["used_at"] is not None:
                # Used twice: someone holds a copy. Nobody of this line logs in now.
                await self._revoke_line(conn, family)
                return None
            if found["status"] != "active":
                raise BadCredentials()
            await conn.execute(
                "UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1",
                token_hash,
            )
            await conn.execute(
                "INSERT INTO auth.refresh_tokens (token_hash, account_id, family, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                next_hash,
                found["account_id"],
                family,
                found["expires_at"],
            )
            await conn.execute(
                "DELETE FROM auth.refresh_tokens WHERE token_hash IN ("
                "  SELECT token_hash FROM auth.refresh_tokens WHERE family = $1 "
                "  AND used_at IS NOT NULL ORDER BY used_at DESC OFFSET $2)",
                family,
                KEEP_USED,
            )
            await self._tidy(conn, int(found["account_id"]))
            return int(found["account_id"])

    async def revoke(self, token_hash: bytes) -> bool:
        """Revoke the line of a token (a logout); False if the token is unknown."""
        async with self.db.transaction() as conn:
            family = await self._lock_line(conn, token_hash)
            if family is None:
                return False
            await self._revoke_line(conn, family)
            return True

    @staticmethod
    async def _lock_line(conn: ConnectionLike, token_hash: bytes) -> bytes | None:
        """The line of a token, locked for this transaction (None: unknown token)."""
        family: bytes | None = await conn.fetchval(
            "SELECT family FROM auth.refresh_tokens WHERE token_hash = $1", token_hash
        )
        if family is not None:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(encode($1, 'hex'), 0))", family
            )
        return family

    @staticmethod
    async def _revoke_line(conn: ConnectionLike, family: bytes) -> None:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now() "
            "WHERE family = $1 AND revoked_at IS NULL",
            family,
        )

    @staticmethod
    async def _tidy(conn: ConnectionLike, account_id: int) -> None:
        await conn.execute(
            "DELETE FROM auth.refresh_tokens WHERE account_id = $1 AND expires_at < now()",
            account_id,
        )
