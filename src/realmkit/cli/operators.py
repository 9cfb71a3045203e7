"""``realmkit operator``: the accounts that may use the operations page (``/ops``).

Every ``realmkit`` command imports this module, so ``realmkit.operators``
(asyncpg, argon2) is imported by the commands below, not here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from realmkit.cli.support import JsonOption, on_db, out, print_json

if TYPE_CHECKING:
    from realmkit.store.records import Account

operator_app = typer.Typer(
    help="Operators: accounts that may use the operations page (/ops on the login node) "
    "and its API: the cluster's state, drains, realm status, patches, announcements.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The account's name.")]


def _shown(account: Account) -> dict[str, Any]:
    """What is printed of an account: never its password hash."""
    return {
        "account_id": account.account_id,
        "username": account.username,
        "status": account.status,
        "role": account.role.value,
        "created_at": account.created_at.isoformat(timespec="seconds"),
    }


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@operator_app.command("add")
def operator_add(
    ctx: typer.Context,
    name: NameArg,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the new account's password from the first line of standard input "
            "instead of asking for it twice.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Make an account an operator, creating it if it does not exist. A new account's
    password is asked for twice (or read with --password-stdin) and must fit the
    login rules; an existing account keeps its password. Operators log in on the
    operations page (http://<login node>/ops) with it."""
    from realmkit import operators

    password = None
    if not on_db(ctx, as_json, lambda _, db: operators.exists(db, name)):
        password = _read_password(password_stdin)
    account, done = on_db(ctx, as_json, lambda _, db: operators.add(db, name, password))
    if as_json:
        print_json({"ok": True, "done": done, "operator": _shown(account)})
        return
    said = {
        "created": "created as an operator",
        "promoted": "is now an operator (its password is unchanged)",
        "already": "was already an operator",
    }
    out.print(f"account {account.username} (id {account.account_id}) {said[done]}")


@operator_app.command("list")
def operator_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every operator account: id, name, status (active, locked, banned), created."""
    from rich.table import Table

    from realmkit import operators

    rows = on_db(ctx, as_json, lambda _, db: operators.listing(db))
    if as_json:
        print_json([_shown(a) for a in rows])
        return
    table = Table("id", "account", "status", "created", title="operators")
    for a in rows:
        table.add_row(
            str(a.account_id), a.username, a.status, a.created_at.isoformat(timespec="seconds")
        )
    out.print(table)


@operator_app.command("remove")
def operator_remove(ctx: typer.Context, name: NameArg, as_json: JsonOption = False) -> None:
    """Make an operator a player again: the account stays, its bearer sessions are
    refused by the operations API from the next request."""
    from realmkit import operators

    account, changed = on_db(ctx, as_json, lambda _, db: operators.remove(db, name))
    if as_json:
        print_json({"ok": True, "removed": changed, "account": _shown(account)})
        return
    said = "is no longer an operator" if changed else "was not an operator"
    out.print(f"account {account.username} (id {account.account_id}) {said}")
