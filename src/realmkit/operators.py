"""Operator accounts (``realmkit operator add|list|remove``): who may use the
operations page and its API (``/ops``, ``/api/ops/...`` on the login node).

An operator is an account whose ``role`` is ``operator`` (migration 0021). A new
operator account's password is checked and hashed as the login node does
(``auth.passwords``: the same rules, argon2id), so it logs in through
``POST /api/login`` like any account.
"""

from __future__ import annotations

import asyncio

from realmkit.auth.passwords import check_new_credentials, hash_password
from realmkit.errors import NotFound
from realmkit.store.accounts import AccountRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Account, AccountRole


async def exists(db: Database, name: str) -> bool:
    """Whether an account of that name exists (case-insensitive)."""
    try:
        await AccountRepo(db).by_name(name)
    except NotFound:
        return False
    return True


async def add(db: Database, name: str, password: str | None) -> tuple[Account, str]:
    """Make ``name`` an operator: an existing account keeps its password; a new one
    is created with ``password`` (``InvalidInput`` if it is missing or breaks the
    rules). The account and what was done: ``created``, ``promoted`` or ``already``."""
    accounts = AccountRepo(db)
    if await exists(db, name):
        account, changed = await accounts.set_role(name, AccountRole.OPERATOR)
        return account, "promoted" if changed else "already"
    check_new_credentials(name, password or "")
    assert password is not None  # checked above: an empty password is refused
    hashed = await asyncio.to_thread(hash_password, password)
    return await accounts.create(name, hashed, AccountRole.OPERATOR), "created"


async def listing(db: Database) -> list[Account]:
    """Every operator account, by name."""
    return await AccountRepo(db).with_role(AccountRole.OPERATOR)


async def remove(db: Database, name: str) -> tuple[Account, bool]:
    """Make an operator a player again (the account stays); whether it was one."""
    return await AccountRepo(db).set_role(name, AccountRole.PLAYER)
