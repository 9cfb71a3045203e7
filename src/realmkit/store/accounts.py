"""Accounts (``auth.accounts``). Passwords arrive already hashed; never log them."""

from __future__ import annotations

from realmkit.errors import AlreadyExists, NotFound
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
