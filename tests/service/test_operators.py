"""Operator accounts: `realmkit operator add|list|remove` and the functions behind them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from realmkit import operators
from realmkit.auth.passwords import verify_password
from realmkit.engines.embedded import Endpoints
from realmkit.errors import InvalidInput, NotFound
from realmkit.store.accounts import AccountRepo
from realmkit.store.postgres import Database
from realmkit.store.records import AccountRole


async def test_add_creates_or_promotes_and_remove_demotes(db: Database) -> None:
    """A new operator gets an argon2 hash of its password; an existing account is
    promoted with its password kept; removing makes it a player again."""
    made, done = await operators.add(db, "gm_anna", "correct horse")
    assert (made.role, done) == (AccountRole.OPERATOR, "created")
    verify_password(made.password_hash, "correct horse")
    player = await AccountRepo(db).create("bob", "kept-hash")
    promoted, done = await operators.add(db, "BOB", None)
    assert (promoted.role, promoted.password_hash, done) == (
        AccountRole.OPERATOR,
        "kept-hash",
        "promoted",
    )
    assert (await operators.add(db, "bob", None))[1] == "already"
    assert [a.username for a in await operators.listing(db)] == ["bob", "gm_anna"]
    demoted, changed = await operators.remove(db, "bob")
    assert (demoted.account_id, demoted.role, changed) == (
        player.account_id,
        AccountRole.PLAYER,
        True,
    )
    assert (await operators.remove(db, "bob"))[1] is False
    assert [a.username for a in await operators.listing(db)] == ["gm_anna"]


async def test_bad_names_and_passwords_are_refused(db: Database) -> None:
    """A new operator needs a valid name and password; removing an unknown one is NotFound."""
    with pytest.raises(InvalidInput):
        await operators.add(db, "gm", "short")
    with pytest.raises(InvalidInput):
        await operators.add(db, "a b c", "long enough password")
    with pytest.raises(NotFound):
        await operators.remove(db, "nobody")


def _realmkit(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the installed ``realmkit`` command with ``stdin``."""
    full = {k: v for k, v in os.environ.items() if k != "REALMKIT_CONFIG"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "realmkit"), *args],
        input=stdin,
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_adds_lists_and_removes_operators(database_url: str, endpoints: Endpoints) -> None:
    """`realmkit operator add NAME --password-stdin`, `list --json`, `remove`; a short
    password exits 2 with INVALID_INPUT."""
    env = {"REALMKIT_DATABASE_URL": database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    done = _realmkit(
        env, "operator", "add", "gm_cli", "--password-stdin", "--json", stdin="secret password\n"
    )
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert (added["done"], added["operator"]["role"]) == ("created", "operator")
    assert "password" not in done.stdout
    done = _realmkit(env, "operator", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert [a["username"] for a in json.loads(done.stdout)] == ["gm_cli"]
    done = _realmkit(env, "operator", "remove", "gm_cli")
    assert done.returncode == 0, done.stderr
    assert "no longer an operator" in done.stdout
    done = _realmkit(env, "operator", "add", "gm_x", "--password-stdin", "--json", stdin="short\n")
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "INVALID_INPUT"


async def test_cli_asks_for_a_new_password_twice(
    database_url: str, endpoints: Endpoints, db: Database
) -> None:
    """Without --password-stdin the password is asked for twice; two that differ are
    asked again; an existing account is promoted without being asked."""
    env = {"REALMKIT_DATABASE_URL": database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    typed = "first password\nother password\nsecond password\nsecond password\n"
    done = _realmkit(env, "operator", "add", "gm_asked", stdin=typed)
    assert done.returncode == 0, done.stderr
    assert "created as an operator" in done.stdout
    verify_password((await AccountRepo(db).by_name("gm_asked")).password_hash, "second password")
    done = _realmkit(env, "operator", "add", "gm_asked", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["done"] == "already"
