"""``realmkit backup``: the base backups the backup node keeps (``realmkit.backup``).

The commands read the same Barman configuration as the backup node, in the
node file's backup folder, so they work beside a running cluster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from realmkit.cli.support import JsonOption, err, out, print_json, run, run_async
from realmkit.settings import Settings

if TYPE_CHECKING:
    from realmkit.backup.barman import Barman

backup_app = typer.Typer(
    help="Backups of the cluster's database: base backups and the WAL streamed between "
    "them (the backup node takes them; these commands list, take and verify them).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _barman(settings: Settings) -> Barman:
    from realmkit.backup.barman import Barman
    from realmkit.engines import embedded as engines

    url = engines.endpoints(settings, nats=False).database_url
    barman = Barman(settings.backup_path, url, settings.backup.retention)
    barman.write_config()
    return barman


def _when(seconds: float) -> str:
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@backup_app.command("list")
def backup_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every base backup, newest first: id, status, when it ended, size with its WAL."""
    from rich.table import Table

    rows = run(ctx, as_json, lambda s: run_async(lambda: _barman(s).list()))
    if as_json:
        print_json(rows)
        return
    table = Table("backup", "status", "ended (UTC)", "size", "retention", title="backups")
    for b in rows:
        table.add_row(
            b.backup_id,
            b.status,
            _when(b.end_time),
            f"{b.size_bytes / 2**20:.1f} MiB",
            "obsolete" if b.obsolete else "kept",
        )
    out.print(table)


@backup_app.command("create")
def backup_create(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Take a base backup now (a fast checkpoint first) and verify it."""

    async def take(settings: Settings) -> str:
        barman = _barman(settings)
        await barman.cron()  # the WAL streamer first: a backup needs its WAL
        backup_id = await barman.backup()
        await barman.verify(backup_id)
        return backup_id

    if not as_json:
        err.print("taking a base backup (this copies the whole database)...")
    backup_id = run(ctx, as_json, lambda s: run_async(lambda: take(s)))
    if as_json:
        print_json({"backup_id": backup_id, "verified": True})
    else:
        out.print(f"backup {backup_id} taken and verified")


@backup_app.command("verify")
def backup_verify(
    ctx: typer.Context,
    backup_id: Annotated[
        str, typer.Argument(metavar="BACKUP", help="A backup id from `backup list`.")
    ] = "latest",
    as_json: JsonOption = False,
) -> None:
    """Check every file of a backup against its manifest (pg_verifybackup)."""
    run(ctx, as_json, lambda s: run_async(lambda: _barman(s).verify(backup_id)))
    if as_json:
        print_json({"backup_id": backup_id, "verified": True})
    else:
        out.print(f"backup {backup_id} verified")
