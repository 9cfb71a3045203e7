"""``realmkit backup``: the base backups the backup node keeps (``realmkit.backup``).

The commands read the same Barman configuration as the backup node, in the
node file's backup folder, so they work beside a running cluster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from realmkit.cli.support import JsonOption, err, out, print_json, run, run_async, with_db
from realmkit.settings import Role, Settings

if TYPE_CHECKING:
    from realmkit.backup.barman import Barman
    from realmkit.backup.check import CheckResult
    from realmkit.backup.restore import Restored

backup_app = typer.Typer(
    help="Backups of the cluster's database: base backups and the WAL streamed between "
    "them (the backup node takes them; these commands list, take and verify them).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _barman(settings: Settings, *, offline: bool = False) -> Barman:
    """Barman on the node file's backup folder. With ``offline`` (reading what is
    kept: list, verify), a PostgreSQL that is down (stopped for a restore, or lost)
    is no obstacle once the backup node has written its configuration."""
    from realmkit.backup.barman import Barman
    from realmkit.engines import embedded as engines
    from realmkit.errors import EngineUnreachable

    try:
        url = engines.endpoints(settings, nats=False).database_url
    except EngineUnreachable:
        if not (offline and (settings.backup_path / "barman.conf").exists()):
            raise
        return Barman(settings.backup_path, "", settings.backup.retention)
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

    rows = run(ctx, as_json, lambda s: run_async(lambda: _barman(s, offline=True).list()))
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

    async def verify(settings: Settings) -> str:
        barman = _barman(settings, offline=True)
        chosen = backup_id
        if chosen == "latest":
            from realmkit.backup.restore import choose

            chosen = choose(
                [(b.backup_id, b.status, b.end_time) for b in await barman.list()], None
            )
        await barman.verify(chosen)
        return chosen

    backup_id = run(ctx, as_json, lambda s: run_async(lambda: verify(s)))
    if as_json:
        print_json({"backup_id": backup_id, "verified": True})
    else:
        out.print(f"backup {backup_id} verified")


@backup_app.command("check")
def backup_check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Restore the latest backup into a scratch folder, start it and check it.

    What the backup node does every [backup] check_every seconds: the backup and
    the WAL after it are copied beside the backups (never into the live data
    folder), a PostgreSQL starts on the copy on a loopback port, replays the WAL,
    and `realmkit db check`'s checks read every table; then it is stopped and
    removed. Exit 0 when the copy started and read whole, 1 when it did not."""
    from realmkit.backup.check import check_latest

    def progress(step: str) -> None:
        err.print(f"[dim]restore check: {step}[/dim]", highlight=False)

    def work(settings: Settings) -> CheckResult:
        barman = _barman(settings)

        async def check_and_record() -> CheckResult:
            result = await check_latest(
                barman, settings.backup.check_timeout, (lambda _: None) if as_json else progress
            )
            await _record_check(settings, result)
            return result

        return run_async(check_and_record)

    result = run(ctx, as_json, work)
    if as_json:
        print_json(result)
    elif result.ok:
        out.print(
            f"backup {result.backup_id} restored, started and read whole in "
            f"{result.seconds:.1f} s ({result.characters} characters"
            + (f"; {result.findings} findings: run `realmkit db check`" if result.findings else "")
            + ")"
        )
    else:
        out.print(f"restore check of backup {result.backup_id or '-'} FAILED: {result.reason}")
    raise typer.Exit(0 if result.ok else 1)


async def _record_check(settings: Settings, result: CheckResult) -> None:
    """The outcome in ``ops.backup_checks`` under the backup node's name, as the node
    records its own checks: ``realmkit status`` shows the latest check, whoever ran
    it. Said, not failed, when the database cannot take it (the check is done)."""
    from realmkit.errors import RealmkitError
    from realmkit.store.backups import BackupSummaryRepo

    nodes = settings.nodes_with_role(Role.BACKUP)
    if not nodes:
        err.print(
            "the check's outcome was not recorded for realmkit status: "
            "the node file names no backup node"
        )
        return
    try:
        await with_db(
            settings,
            lambda db: BackupSummaryRepo(db).record_check(
                nodes[0].name,
                ok=result.ok,
                backup_id=result.backup_id,
                reason=result.reason,
                seconds=result.seconds,
                checked_at=result.checked_at,
                characters=result.characters,
            ),
        )
    except RealmkitError as exc:
        err.print(f"the check's outcome was not recorded for realmkit status: {exc.message}")


@backup_app.command("restore")
def backup_restore(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The moment: an ISO 8601 time (2026-12-03T21:30:00+00:00; without a zone "
            "it is UTC), or 'latest' for the last WAL streamed.",
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Restore the embedded PostgreSQL to a moment, with the cluster stopped.

    Stop the cluster first (`realmkit down`). The data folder found is moved aside
    (data.replaced-<time>), never deleted; the newest base backup that ended
    before the moment is copied and its WAL replayed up to the moment; then
    `realmkit up` resumes the cluster from it."""
    from realmkit.backup.barman import Barman
    from realmkit.backup.restore import restore
    from realmkit.cli.cluster import cluster_pid
    from realmkit.engines.embedded import EmbeddedEngines
    from realmkit.errors import Conflict

    target = None if to == "latest" else _moment(to)
    if not yes and not as_json:
        typer.confirm(f"restore the database to {to} (the cluster must be stopped)?", abort=True)

    def work(settings: Settings) -> Restored:
        if settings.engines.database_url:
            raise typer.BadParameter(
                "restore runs on the embedded PostgreSQL; for an external one, run "
                f"`barman -c {settings.backup_path / 'barman.conf'} recover` on its host",
                param_hint="--to",
            )
        running = cluster_pid(settings)
        if running is not None:
            # Its PostgreSQL may be down (the database lost), but its nodes would
            # write to the copy as soon as it starts to replay.
            raise Conflict(
                f"the cluster is running (`realmkit up`, pid {running}): stop it first "
                "(`realmkit down`); a restore never runs beside a live cluster",
                pid=running,
            )
        barman = Barman(settings.backup_path, "", settings.backup.retention)
        postgres = EmbeddedEngines(settings.data_path).postgres
        if not as_json:
            err.print("restoring: copying the base backup, then replaying the WAL...")
        return run_async(lambda: restore(barman, postgres, target))

    done = run(ctx, as_json, work)
    if as_json:
        print_json(done)
        return
    out.print(
        f"restored backup {done.backup_id} to {done.target} in {done.seconds:.1f} s"
        + (f"; the previous data folder is kept in {done.replaced}" if done.replaced else "")
        + "; `realmkit up` resumes the cluster"
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("an ISO 8601 time or 'latest'", param_hint="--to") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
