"""The ``realmkit`` command.

Exit codes: 0 success, 1 the work failed (an engine down, a database error),
2 the command was wrong (bad option, bad realmkit.toml). ``--json`` prints
one JSON document on stdout for machines, errors included.

Module imports stay light (typer, rich's console, msgspec): each command
imports the engines, asyncpg, aiohttp, nats or the nodes it needs in its body,
so ``--help``, ``version`` and ``init`` do not pay for them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from realmkit.cli.backups import backup_app
from realmkit.cli.entry import version_text, write_node_file
from realmkit.cli.operators import operator_app
from realmkit.cli.realms import patch_app, pool_app, realm_app
from realmkit.cli.support import (
    Context,
    JsonOption,
    err,
    on_db,
    out,
    print_json,
    run,
    run_async,
    with_db,
)
from realmkit.settings import DEFAULT_CONFIG_FILE, Role, Settings

# Cell and map ids are PostgreSQL integers (realms.MAX_ID; not imported: the CLI
# loads its commands' modules only when they run).
MAX_ID = 2**31 - 1

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from rich.table import Table

    from realmkit.client import bots as swarm
    from realmkit.engines import embedded as engines
    from realmkit.store.postgres import Database
    from realmkit.store.records import CellStatus, Realm

# Plain help: typer's rich panels label every flag ``<bool>`` (``--help <bool>``)
# and cost a tenth of a second more to start.
app = typer.Typer(
    help="realmkit: a clustered MMO realm server on NATS and PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
engines_app = typer.Typer(
    help="The NATS and PostgreSQL the cluster runs on (embedded unless URLs are configured).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The PostgreSQL schema.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(engines_app, name="engines")
app.add_typer(db_app, name="db")
app.add_typer(realm_app, name="realm")
app.add_typer(pool_app, name="pool")
app.add_typer(patch_app, name="patch")
app.add_typer(backup_app, name="backup")
app.add_typer(operator_app, name="operator")


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help=f"Node file (default: $REALMKIT_CONFIG, else ./{DEFAULT_CONFIG_FILE} if present).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Folder of the embedded engines' data (default: ./.realmkit)."
        ),
    ] = None,
) -> None:
    ctx.obj = Context(config=config, data_dir=data_dir)


@app.command()
def version(as_json: JsonOption = False) -> None:
    """Print realmkit's version."""
    found = version_text()
    if as_json:
        print_json({"version": found, "python": sys.version.split()[0]})
    else:
        out.print(f"realmkit {found}")


@app.command()
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the documented default node file, realmkit.toml, to edit."""
    done, said = write_node_file(force)
    if not done:
        err.print(f"[bold red]error:[/] {said}")
        raise typer.Exit(2)
    out.print(said)


# --- engines ------------------------------------------------------------------


def _engine_table(infos: list[engines.EngineInfo]) -> Table:
    from rich.table import Table

    table = Table("engine", "where", "state", "pid")
    table.add_column("url", overflow="fold")
    for info in infos:
        state = "answering" if info.answering else ("running" if info.running else "stopped")
        if info.started_now:
            state += " (started now)"
        table.add_row(
            info.name,
            "embedded" if info.embedded else "external",
            state,
            str(info.pid or "-"),
            info.url or "-",
        )
    return table


@engines_app.command("up")
def engines_up(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Start the embedded engines, or find them already running; probe external ones."""
    from realmkit.engines import embedded as engines

    _, infos = run(ctx, as_json, engines.engines_up)
    if as_json:
        print_json({"ok": True, "engines": infos})
    else:
        out.print(_engine_table(infos))


@engines_app.command("down")
def engines_down(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Stop the embedded engines of this data folder (their data is kept)."""
    from realmkit.engines import embedded as engines

    def down(settings: Settings) -> list[engines.EngineInfo]:
        return engines.EmbeddedEngines(settings.data_path).down()

    infos = run(ctx, as_json, down)
    stopped = [i.name for i in infos if i.running]
    if as_json:
        print_json({"ok": True, "stopped": stopped})
    else:
        out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@engines_app.command("status")
def engines_status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the engines; exit 1 unless both answer."""
    from realmkit.engines import embedded as engines

    infos = run(ctx, as_json, engines.engines_status)
    healthy = all(i.answering for i in infos)
    if as_json:
        print_json({"ok": healthy, "engines": infos})
    else:
        out.print(_engine_table(infos))
        if not any(i.running for i in infos):
            out.print("nothing runs here: `realmkit up` starts the cluster and its engines")
    raise typer.Exit(0 if healthy else 1)


# --- db -------------------------------------------------------------------------


@db_app.command("migrate")
def db_migrate(
    ctx: typer.Context,
    seed: Annotated[
        bool,
        typer.Option(
            "--seed",
            help="Then add the default game, pool and an online realm if the database "
            "has no game yet (what `realmkit up` does).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Apply pending schema migrations (safe to run from many nodes at once)."""
    from realmkit.seed import seed_if_empty
    from realmkit.store import migrate as migrations

    async def work(db: Database) -> tuple[list[int], bool]:
        applied = await migrations.migrate(db)
        return applied, seed and await seed_if_empty(db)

    applied, seeded = run(ctx, as_json, lambda s: run_async(lambda: with_db(s, work)))
    if as_json:
        print_json({"ok": True, "applied": applied, "seeded": seeded})
        return
    if applied:
        out.print(f"applied migrations: {', '.join(map(str, applied))}")
    else:
        out.print("schema is up to date")
    if seeded:
        out.print("seeded the default game, pool and realm")


@db_app.command("status")
def db_status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the schema migrations and when each was applied; exit 1 if any is pending."""
    from rich.table import Table

    from realmkit.store import migrate as migrations

    rows = run(ctx, as_json, lambda s: run_async(lambda: with_db(s, migrations.status)))
    pending = [r.version for r in rows if r.applied_at is None]
    if as_json:
        print_json({"ok": not pending, "migrations": rows, "pending": pending})
    else:
        table = Table("version", "name", "applied")
        for r in rows:
            applied = r.applied_at.isoformat(timespec="seconds") if r.applied_at else "pending"
            table.add_row(str(r.version), r.name, applied)
        out.print(table)
    raise typer.Exit(1 if pending else 0)


@db_app.command("check")
def db_check(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Correct what can be corrected, quarantine what cannot, and say when "
            "only a restore from a backup helps; every repair is logged in ops.repairs.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the database's pages and the game's invariants.

    Exit 0 when clean, 1 when something was found; with --repair, 0 when every
    finding was corrected or quarantined, 2 when a restore from a backup is needed.
    """
    from rich.table import Table

    from realmkit.store import integrity

    def progress(step: str) -> None:
        err.print(f"[dim]checking: {step}[/dim]", highlight=False)

    async def work(db: Database) -> tuple[integrity.Report, list[integrity.Repair]]:
        report = await integrity.check(db, progress)
        repairs = await integrity.repair(db, report.findings, progress) if repair else []
        return report, repairs

    report, repairs = run(ctx, as_json, lambda s: run_async(lambda: with_db(s, work)))
    found = report.findings
    restore = any(f.remedy is integrity.Remedy.RESTORE for f in found)
    # After a repair only what needs a restore is left; before, anything found fails.
    # A skipped amcheck is said, not failed: the embedded PostgreSQL has none.
    code = (2 if restore else 0) if repair else (1 if found else 0)
    if as_json:
        print_json(
            {
                "ok": not found,
                "physical": report.physical,
                "findings": found,
                "repairs": repairs,
                "restore": restore,
            }
        )
        raise typer.Exit(code)
    if report.physical == integrity.AMCHECK:
        out.print("PostgreSQL's own check: amcheck on every table and btree index")
    else:
        out.print(
            f"PostgreSQL's own check skipped ({report.physical}); every table was read in full",
            highlight=False,
        )
    if not found:
        out.print("no damage found")
        raise typer.Exit(code)
    table = Table("check", "row", "remedy", "detail")
    for f in found:
        table.add_row(f.check, f.key, f.remedy.value, _short(f.detail))
    out.print(table)
    if repairs:
        done = Table("check", "row", "action", "after")
        for r in repairs:
            done.add_row(r.check, r.key, r.action, _short(r.after or {}))
        out.print(done)
    if restore:
        out.print("some tables are damaged: restore the database from a backup")
    raise typer.Exit(code)


def _short(detail: object, limit: int = 100) -> str:
    import json

    text = json.dumps(detail, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- nodes ----------------------------------------------------------------------


@app.command()
def node(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A node name from the node file, or a role.")],
    role: Annotated[
        Role | None,
        typer.Option(
            help="Run NAME as a node of this role even if the node file does not list it "
            "(launched world nodes, Kubernetes pods)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run one node of the node file in the foreground (what a host or a pod runs).

    It connects to the engines the node file or REALMKIT_*_URL name (the
    embedded ones of --data-dir otherwise), serves until SIGTERM or Ctrl-C,
    then drains and stops.
    """
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )

    import uvloop

    from realmkit.engines import embedded as engines
    from realmkit.nodes.base import serve
    from realmkit.nodes.factory import build_node, find_spec

    def serve_one(settings: Settings) -> None:
        spec = find_spec(settings, name, role)
        endpoints = engines.endpoints(settings)
        uvloop.run(serve(lambda s: build_node(settings, s, endpoints), spec, settings.data_path))

    run(ctx, False, serve_one)


@app.command()
def up(
    ctx: typer.Context,
    live: Annotated[
        bool | None,
        typer.Option(
            "--live/--no-live",
            help="A live table, sized to the terminal (default: when the output is a "
            "terminal), or a line when something changes.",
            show_default=False,
        ),
    ] = None,
    bots: Annotated[
        int, typer.Option(min=0, max=20000, help="Also run this many bots in the cluster.")
    ] = 0,
) -> None:
    """Start the whole cluster: engines, schema, a default realm, then every node.

    Nodes run as child processes (logs in <data-dir>/logs) and are restarted
    with backoff when they crash. Ctrl-C stops every node, then the embedded
    NATS and PostgreSQL that this command started (engines that were already
    running, or external URLs, are left running). `realmkit down` from another
    terminal stops every node and every embedded engine of the data folder.
    """
    import uvloop

    from realmkit.cli import cluster as launch

    def serve(settings: Settings) -> None:
        config = ctx.obj.config or (
            Path(DEFAULT_CONFIG_FILE) if Path(DEFAULT_CONFIG_FILE).is_file() else None
        )
        shown = sys.stdout.isatty() if live is None else live
        uvloop.run(launch.run_cluster(settings, config, out, live=shown, bots=bots))

    run(ctx, False, serve)


@app.command()
def down(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Stop the cluster that `realmkit up` runs, then the embedded engines."""
    from realmkit.cli import cluster as launch
    from realmkit.engines import embedded as engines

    def stop(settings: Settings) -> tuple[int | None, list[engines.EngineInfo]]:
        if not settings.data_path.is_dir():  # nothing ever ran here: create nothing
            return None, []
        pair = engines.EmbeddedEngines(settings.data_path)
        # Taken first: the cluster stops the engines it started itself.
        running = pair.status()
        pid = launch.stop_cluster(settings)
        pair.down()
        return pid, running

    pid, infos = run(ctx, as_json, stop)
    stopped = [i.name for i in infos if i.running]
    if as_json:
        print_json({"ok": True, "cluster_pid": pid, "engines_stopped": stopped})
    else:
        out.print("cluster stopped" if pid else "no cluster was running")
        out.print(
            f"engines stopped: {', '.join(stopped)}" if stopped else "no engines were running"
        )


@app.command()
def cells(
    ctx: typer.Context,
    realm: Annotated[str, typer.Argument(metavar="REALM", help="Realm name or id.")],
    split: Annotated[
        int | None,
        typer.Option(
            "--split",
            metavar="CELL",
            min=1,
            max=MAX_ID,
            help="Split this cell (with --at; --axis x or y, x if not given).",
        ),
    ] = None,
    merge: Annotated[
        int | None,
        typer.Option(
            "--merge",
            metavar="CELL",
            min=1,
            max=MAX_ID,
            help="Merge this cell and its sibling (the lower id of the two stays).",
        ),
    ] = None,
    move: Annotated[
        int | None,
        typer.Option(
            "--move",
            metavar="CELL",
            min=1,
            max=MAX_ID,
            help="Move the border between this cell and its sibling (with --at).",
        ),
    ] = None,
    axis: Annotated[
        str | None, typer.Option(help="The split's axis: x or y (with --split; x if not given).")
    ] = None,
    at: Annotated[
        float | None,
        typer.Option(
            help="Where to cut (--split) or where the border goes (--move), in map units "
            "along the axis."
        ),
    ] = None,
    map_id: Annotated[
        int | None,
        typer.Option(
            "--map",
            min=1,
            max=MAX_ID,
            help="The continent's map id (1 if not given; listing: only that map).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The cells of a realm's continents: each a space on some world node, their
    bounds tiling the map (a k-d split), the partition's version, players per cell.

    With --split CELL --axis x|y --at N the running cluster cuts that cell in two:
    the high part becomes a new cell on another world node and the entities and
    players there are handed over live (players keep their sockets and see no
    transfer). With --merge CELL the cell joins its sibling (the other half of
    the split that made it): the lower id of the two takes the area, the other
    hands everything over and its space stops. With --move CELL --at N the border
    between the cell and its sibling (itself a cell) moves to N along the axis of
    the split that made them, both staying more than twice the ghost margin wide;
    what the moved area holds is handed over live to the cell that now has it.

    The orchestrators' leader also splits busy cells, merges cold ones and moves
    the border between uneven siblings by itself (the [cells] settings of the node
    file; balance = false turns it off), so a hand-made split of a quiet continent
    is merged back: a change by hand holds for the leader's cooldown at least."""
    from realmkit import realms
    from realmkit.cli.tables import cells_table

    if sum(change is not None for change in (split, merge, move)) > 1:
        raise typer.BadParameter("one of --split, --merge and --move", param_hint="--move")
    if split is not None and at is None:
        raise typer.BadParameter("--split needs --at", param_hint="--at")
    if move is not None and at is None:
        raise typer.BadParameter("--move needs --at", param_hint="--at")
    if axis is not None and split is None:
        # A border moves along the axis of the split that made it: nothing to choose.
        raise typer.BadParameter("--axis goes with --split", param_hint="--axis")
    if at is not None and split is None and move is None:
        raise typer.BadParameter("--at goes with --split or --move", param_hint="--at")
    if axis not in (None, "x", "y"):
        raise typer.BadParameter("x or y", param_hint="--axis")
    shown_map = map_id
    map_id = 1 if map_id is None else map_id
    if split is not None and at is not None:
        cell, where, cut_axis = split, at, axis or "x"

        def cut(settings: Settings, db: Database) -> Awaitable[tuple[Realm, list[CellStatus]]]:
            return realms.split_cell(settings, db, realm, map_id, cell, cut_axis, where)

        found, rows = on_db(ctx, as_json, cut)
    elif merge is not None:
        gone = merge

        def join(settings: Settings, db: Database) -> Awaitable[tuple[Realm, list[CellStatus]]]:
            return realms.merge_cell(settings, db, realm, map_id, gone)

        found, rows = on_db(ctx, as_json, join)
    elif move is not None and at is not None:
        shifted, to = move, at

        def shift(settings: Settings, db: Database) -> Awaitable[tuple[Realm, list[CellStatus]]]:
            return realms.move_border(settings, db, realm, map_id, shifted, to)

        found, rows = on_db(ctx, as_json, shift)
    else:
        found, rows = on_db(ctx, as_json, lambda _, db: realms.cells(db, realm))
        if shown_map is not None:
            rows = [r for r in rows if r.map_id == shown_map]
    if as_json:
        print_json({"realm": found, "cells": rows})
    elif not rows:
        on_map = "" if shown_map is None else f" on map {shown_map}"
        out.print(
            f"realm {found.name} has no continent running{on_map} (a continent starts with "
            "its first player; dungeons and battlegrounds have no cells)"
        )
    else:
        out.print(cells_table(found.name, rows))
        if split is not None or merge is not None or move is not None:
            out.print(
                "players and creatures are handed over at the cells' next ticks: "
                f"`realmkit cells {realm}` again shows them where they are now"
            )


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Realms, nodes, instances, continents' cells and players from PostgreSQL, and live
    node loads (per space: players, entities, ghosts, tick p99) from NATS."""
    from realmkit.cli import cluster as launch
    from realmkit.cli.tables import status_tables

    found = run(ctx, as_json, lambda s: run_async(lambda: launch.live_status(s)))
    if as_json:
        print_json(launch.status_json(found))
    else:
        out.print(status_tables(found))


@app.command()
def drain(
    ctx: typer.Context,
    node_name: Annotated[str, typer.Argument(metavar="NODE", help="The world node to empty.")],
    as_json: JsonOption = False,
) -> None:
    """Move every space off a world node while players play on (live migration).

    Each space is frozen after a tick, checkpointed, restored on another world
    node and continues from the next tick; players stay connected. The node
    takes no new spaces afterwards: stop it, upgrade it, start it again.
    """
    from rich.table import Table

    from realmkit.cli import cluster as launch

    with out.status(f"draining {node_name}...") if not as_json else contextlib.nullcontext():
        found = run(ctx, as_json, lambda s: run_async(lambda: launch.drain_node(s, node_name)))
    if as_json:
        print_json(found)
        return
    table = Table("instance", "to node", "players", "seconds", title=f"{node_name} drained")
    for m in found.spaces:
        table.add_row(str(m.instance_id), m.to_node, str(m.players), f"{m.seconds:.3f}")
    out.print(table)


@app.command()
def bots(
    ctx: typer.Context,
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=20000, help="How many bots.")
    ] = 10,
    realm: Annotated[int | None, typer.Option(help="Realm id (default: the first realm).")] = None,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Seconds to run (default: until Ctrl-C).")
    ] = None,
    login: Annotated[
        str | None,
        typer.Option(
            help="Login API URL (default: the node file's login node, whose accounts the "
            "bots get in its PostgreSQL; a login node elsewhere limits sign-ups per address "
            "unless its [login] registrations_unlimited names this one)."
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            help="Accounts bot_<tag>_<index>, characters Bot<tag>... (1-5 letters). Default: "
            "a new random tag, so two swarms (or `up --bots`) never share characters; "
            "give a tag again to reuse its accounts.",
        ),
    ] = None,
    first: Annotated[
        int, typer.Option(min=0, help="Index of the first bot (bot_<tag>_<index> accounts).")
    ] = 0,
    spread: Annotated[
        float, typer.Option(min=0, help="Bots make their home within this many units of the start.")
    ] = 300.0,
    ramp: Annotated[
        float, typer.Option(min=0.1, help="Bots that start per second (logins hash passwords).")
    ] = 50.0,
    queue: Annotated[
        str | None,
        typer.Option(
            help="Also queue for this activity (battleground, arena2v2, arena3v3, dungeon), "
            "accept every match, play it, and queue again."
        ),
    ] = None,
    party: Annotated[
        int,
        typer.Option(
            min=1,
            max=5,
            help="Bots form parties of this many (consecutive indexes): the first of each "
            "invites the others by name and queues the party for --queue.",
        ),
    ] = 1,
    probes: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Only this many bots are full clients (they decode every frame); the others "
            "are light ones that read each frame's header and count its bytes, walk and never "
            "attack: a load generator cheap enough to measure the server. Bots that queue or "
            "form parties are full clients. Default: all full.",
        ),
    ] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(
            help="A file of refresh tokens: bots log in with the one a previous swarm left "
            "for their account (no password hash, as returning players do) and leave the "
            "next ones there (private to you).",
        ),
    ] = None,
    social: Annotated[
        bool,
        typer.Option(
            "--social",
            help="Bots also chat: they join the realm channels general and trade, talk there "
            "and whisper to other bots of the swarm now and then (within the chat limits), "
            "and each pair of consecutive bots meets to trade; the summary counts messages "
            "sent and heard, whispers refused and trades committed or cancelled. Social "
            "bots are full clients.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run bots that log in, walk between waypoints and fight; report latency and traffic.

    The figures cover the whole run; a SIGUSR1 starts a measuring window and a
    SIGUSR2 ends it, and the summary then covers frames, bytes and latencies within."""
    import uvloop

    from realmkit.cli import cluster as launch
    from realmkit.cli.tables import bots_table
    from realmkit.client import bots as swarm

    if tag is not None and not swarm.valid_tag(tag):
        raise typer.BadParameter("1-5 letters", param_hint="--tag")
    swarm_tag = tag if tag is not None else swarm.new_tag()

    def swarm_run(settings: Settings) -> swarm.SwarmSummary:
        url = login or launch.login_url(settings)
        if login is None:  # this node file's cluster: its accounts made as an operator
            if not as_json:
                err.print(f"making the accounts of {count} bots that lack one...")
            uvloop.run(launch.provide_bot_accounts(settings, first, count, swarm_tag))
        options = swarm.SwarmOptions(
            realm_id=realm,
            duration=duration,
            first=first,
            spread=spread,
            ramp_per_second=ramp,
            queue=queue,
            party=party,
            tag=swarm_tag,
            probes=probes,
            tokens=str(tokens) if tokens is not None else None,
            social=social,
        )
        return uvloop.run(_bots(count, url, options, live=not as_json))

    if not as_json:
        err.print(f"bots log in as bot_{swarm_tag}_<index>", highlight=False)
    result = run(ctx, as_json, swarm_run)
    if as_json:
        print_json(result)
    else:
        out.print(bots_table(result, live=False))
    raise typer.Exit(0 if result.entered else 1)


async def _bots(
    count: int, url: str, options: swarm.SwarmOptions, *, live: bool
) -> swarm.SwarmSummary:
    import asyncio
    import signal

    from rich.live import Live

    from realmkit.cli.tables import bots_table
    from realmkit.client import bots as swarm

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stats = swarm.SwarmStats()
    loop.add_signal_handler(signal.SIGUSR1, stats.mark)  # a benchmark's measuring window
    loop.add_signal_handler(signal.SIGUSR2, stats.end)
    work = asyncio.create_task(
        swarm.run_swarm(
            count,
            url,
            realm_id=options.realm_id,
            duration=options.duration,
            stop=stop,
            stats=stats,
            first=options.first,
            spread=options.spread,
            ramp_per_second=options.ramp_per_second,
            queue=options.queue,
            party=options.party,
            tag=options.tag,
            probes=options.probes,
            tokens=Path(options.tokens) if options.tokens is not None else None,
            social=options.social,
        )
    )
    if live:
        with Live(console=out, refresh_per_second=2) as view:
            while not work.done():
                view.update(bots_table(swarm.summary(stats, count), live=True))
                await asyncio.wait([work], timeout=0.5)
    result = await work
    if stats.last_error:
        err.print(f"last error: {stats.last_error}", highlight=False)
    return result


def main() -> None:
    app()
