"""``realmkit realm``, ``realmkit pool`` and ``realmkit patch``: the realms of a deployment.

Every ``realmkit`` command imports this module, so ``realmkit.realms`` (NATS,
asyncpg, the content packs) is imported by the commands below, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer

from realmkit.cli.support import JsonOption, on_db, out, print_json
from realmkit.settings import Settings
from realmkit.store.values import RealmStatus

if TYPE_CHECKING:
    from rich.table import Table

    from realmkit.realms import PatchState, PatchTarget
    from realmkit.store.postgres import Database
    from realmkit.store.records import Realm, RealmListing, RealmPool
    from realmkit.store.restarts import RealmRestart

realm_app = typer.Typer(
    help="Realms: each runs one game and belongs to one pool (cross-realm matches).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
pool_app = typer.Typer(
    help="Realm pools: realms of one game whose players meet in battlegrounds, arenas "
    "and dungeon finder groups.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
patch_app = typer.Typer(
    help="Patch chains: content overrides per realm (creature stats, spawns, loot rates, "
    "phase gates), applied to running spaces without a restart.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

RealmArg = Annotated[str, typer.Argument(metavar="REALM", help="Realm name or id.")]
RealmOpt = Annotated[str | None, typer.Option("--realm", "-r", help="Realm name or id.")]
PoolOpt = Annotated[
    str | None, typer.Option("--pool", help="Pool name or id (its cross-realm instances).")
]


# --- realms ---------------------------------------------------------------------


def _realm_table(rows: list[RealmListing]) -> Table:
    from rich.table import Table

    table = Table("id", "realm", "game", "pool", "status", "patch", "players", title="realms")
    for r in rows:
        table.add_row(
            str(r.realm_id),
            r.name,
            r.game_id,
            r.pool,
            r.status.value,
            r.patch or "-",
            str(r.population),
        )
    return table


@realm_app.command("list")
def realm_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every realm with its game, pool, status, active patch and players online."""
    from realmkit import realms

    rows = on_db(ctx, as_json, lambda _, db: realms.listing(db))
    if as_json:
        print_json(rows)
    else:
        out.print(_realm_table(rows))


@realm_app.command("add")
def realm_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Realm name (1-32 characters, unique).")],
    pool: Annotated[str, typer.Option("--pool", "-p", help="Pool name or id; sets the game.")],
    status: Annotated[
        RealmStatus, typer.Option(help="Initial status (offline until you open it).")
    ] = RealmStatus.OFFLINE,
    as_json: JsonOption = False,
) -> None:
    """Add a realm to a pool; it runs the pool's game."""
    from realmkit import realms

    if not 1 <= len(name) <= 32:
        raise typer.BadParameter("1-32 characters", param_hint="NAME")
    realm = on_db(ctx, as_json, lambda _, db: realms.add_realm(db, name, pool, status))
    _show_realm(realm, as_json, "added")


@realm_app.command("set-status")
def realm_set_status(
    ctx: typer.Context,
    realm: RealmArg,
    status: Annotated[RealmStatus, typer.Argument(help="online, offline, locked or maintenance.")],
    as_json: JsonOption = False,
) -> None:
    """Open or close a realm. A realm not online takes no new players and no new
    queue tickets; players already in keep playing."""
    from realmkit import realms

    found = on_db(ctx, as_json, lambda _, db: realms.set_status(db, realm, status))
    _show_realm(found, as_json, "is now")


@realm_app.command("set-phase")
def realm_set_phase(
    ctx: typer.Context,
    realm: RealmArg,
    phase: Annotated[int, typer.Argument(min=0, max=1000, help="The realm's new phase.")],
    as_json: JsonOption = False,
) -> None:
    """Move a realm to another phase: spawns a patch gates by phase appear or vanish in
    its running spaces at a tick boundary."""
    from realmkit import realms

    found = on_db(ctx, as_json, lambda s, db: realms.set_phase(s, db, realm, phase))
    _show_realm(found, as_json, f"is in phase {found.current_phase} and")


@realm_app.command("restart")
def realm_restart(
    ctx: typer.Context,
    realm: RealmArg,
    in_: Annotated[
        str,
        typer.Option(
            "--in",
            metavar="DELAY",
            help="When: 90s, 10m, 2h, 1d, or seconds (0: now). Its players are told at "
            "each of [restarts] warnings (seconds before).",
        ),
    ] = "10m",
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Call off the realm's pending restart.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Restart a realm's spaces without logging anybody out: its players are told the
    time left at each warning mark, then everyone is saved, the realm's spaces (its
    continents' cells and dungeons) start again from their content, and each player
    is seated back where they stood (a loading screen, the same connection). Asking
    again moves a pending restart to the new time. Run by the orchestrators' leader:
    `realmkit realm restarts` shows where it stands."""
    from realmkit import countdown, realms

    if cancel:
        done = on_db(ctx, as_json, lambda s, db: realms.cancel_restart(s, db, realm))
        _show_restart(done, as_json, "called off")
        return
    try:
        seconds = countdown.parse_delay(in_)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--in") from None
    asked = on_db(ctx, as_json, lambda s, db: realms.schedule_restart(s, db, realm, seconds))
    _show_restart(asked, as_json, f"restarts in {countdown.spoken(seconds)}")


@realm_app.command("announce")
def realm_announce(
    ctx: typer.Context,
    realm: RealmArg,
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help="What to say (1-500 printable characters).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Tell every player of a realm in the world something now (an `announce` of kind
    `system`, through the gateway that holds each): a maintenance, an event."""
    from realmkit import realms

    told = on_db(ctx, as_json, lambda s, db: realms.announce(s, db, realm, text))
    if as_json:
        print_json({"ok": True, "told": told})
    else:
        out.print(f"{told} players of {realm} told")


@realm_app.command("mute")
def realm_mute(
    ctx: typer.Context,
    realm: RealmArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The character to mute.")],
    for_: Annotated[
        str,
        typer.Option("--for", metavar="TIME", help="How long: 90s, 10m, 2h, 1d, or seconds."),
    ] = "1h",
    reason: Annotated[
        str, typer.Option("--reason", help="Told to the player (up to 255 characters).")
    ] = "muted by an operator",
    lift: Annotated[bool, typer.Option("--lift", help="Lift the character's mute now.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Mute a character of a realm: its chat (whispers, channels, party and guild) is
    refused with `MUTED` until the time is up, on whichever gateway it plays; it is
    told at once (an `announce` of kind `muted`). Muting again replaces the mute;
    `--lift` ends it."""
    from realmkit import countdown, realms

    if lift:
        lifted = on_db(ctx, as_json, lambda s, db: realms.unmute(s, db, realm, name))
        if as_json:
            print_json({"ok": True, "lifted": lifted})
        else:
            out.print(f"{name} of {realm}: " + ("mute lifted" if lifted else "was not muted"))
        return
    try:
        seconds = countdown.parse_delay(for_)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--for") from None
    if seconds <= 0:
        raise typer.BadParameter("a mute lasts a while: 90s, 10m, 2h, 1d", param_hint="--for")
    muted = on_db(ctx, as_json, lambda s, db: realms.mute(s, db, realm, name, seconds, reason))
    if as_json:
        print_json({"ok": True, "until": muted.until.isoformat(), "reason": muted.reason})
    else:
        out.print(f"{name} of {realm} muted until {muted.until:%Y-%m-%d %H:%M:%S} UTC")


@realm_app.command("restarts")
def realm_restarts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Pending and running realm restarts, then the latest finished ones."""
    from rich.table import Table

    from realmkit import realms

    rows = on_db(ctx, as_json, lambda _, db: realms.restarts(db))
    if as_json:
        print_json(rows)
        return
    table = Table("id", "realm", "due", "why", "state", "spaces", "players", "detail")
    table.title = "realm restarts"
    for r in rows:
        table.add_row(
            str(r.restart_id),
            r.realm,
            r.due_at.isoformat(timespec="seconds"),
            r.reason,
            r.state.value,
            str(r.spaces),
            str(r.players),
            r.detail or "-",
        )
    out.print(table)


def _show_restart(restart: RealmRestart, as_json: bool, verb: str) -> None:
    if as_json:
        print_json({"ok": True, "restart": restart})
    else:
        out.print(
            f"realm {restart.realm} {verb} (restart {restart.restart_id}, due "
            f"{restart.due_at.isoformat(timespec='seconds')})"
        )


def _show_realm(realm: Realm, as_json: bool, verb: str) -> None:
    if as_json:
        print_json({"ok": True, "realm": realm})
    else:
        out.print(
            f"realm {realm.name} (id {realm.realm_id}, {realm.game_id}) {verb} {realm.status.value}"
        )


# --- pools ----------------------------------------------------------------------


@pool_app.command("add")
def pool_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pool name (unique).")],
    game: Annotated[str, typer.Option("--game", "-g", help="The game every realm of it runs.")],
    as_json: JsonOption = False,
) -> None:
    """Add a realm pool for one game."""
    from realmkit import realms

    pool = on_db(ctx, as_json, lambda _, db: realms.add_pool(db, name, game))
    if as_json:
        print_json({"ok": True, "pool": pool})
    else:
        out.print(f"pool {pool.name} (id {pool.pool_id}) for {pool.game_id} added")


@pool_app.command("list")
def pool_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every pool, its game, its realms and the patch of its cross-realm instances."""
    from rich.table import Table

    from realmkit import realms
    from realmkit.store.cluster import ClusterRepo

    async def work(_: Settings, db: Database) -> tuple[list[RealmPool], list[RealmListing]]:
        return await ClusterRepo(db).pools(), await realms.listing(db)

    pools, rows = on_db(ctx, as_json, work)
    members = {p.pool_id: [r.name for r in rows if r.pool_id == p.pool_id] for p in pools}
    if as_json:
        print_json([{**msgspec.to_builtins(p), "realms": members[p.pool_id]} for p in pools])
        return
    table = Table("id", "pool", "game", "realms", "patch", title="pools")
    for p in pools:
        table.add_row(
            str(p.pool_id),
            p.name,
            p.game_id,
            ", ".join(members[p.pool_id]) or "-",
            str(p.active_patch_id or "-"),
        )
    out.print(table)


# --- patches --------------------------------------------------------------------


@patch_app.command("create")
def patch_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Patch name (unique within its game).")],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            exists=True,
            dir_okay=False,
            help='JSON overrides, e.g. {"creatures": {"1": {"hp": 90}}}; see '
            "realmkit.content.patches for the format.",
        ),
    ],
    realm: RealmOpt = None,
    pool: PoolOpt = None,
    game: Annotated[str | None, typer.Option("--game", "-g", help="The game it patches.")] = None,
    parent: Annotated[
        str | None,
        typer.Option(
            help="Parent patch (name or id); default: the active patch of --realm/--pool."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a patch (not active yet): checked against its game's content first."""
    from realmkit import realms

    raw = file.read_bytes()
    on = realms.PatchTarget(realm, pool) if realm is not None or pool is not None else None
    created = on_db(
        ctx,
        as_json,
        lambda _, db: realms.create_patch(db, name, raw, game=game, parent=parent, on=on),
    )
    if as_json:
        print_json({"ok": True, "patch": created})
    else:
        out.print(
            f"patch {created.name} (id {created.patch_id}) of {created.game_id} created"
            f" on {created.parent_id or 'the base content'}; activate it with "
            f"`realmkit patch activate {created.name} --realm REALM`"
        )


@patch_app.command("activate")
def patch_activate(
    ctx: typer.Context,
    patch: Annotated[str, typer.Argument(help="Patch name or id.")],
    realm: RealmOpt = None,
    pool: PoolOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Run ``patch`` (with its chain) on a realm's spaces, or a pool's cross-realm ones.
    Running spaces switch at a tick boundary: no restart, no disconnect."""
    from realmkit import realms

    target = _target(realm, pool)
    state = on_db(ctx, as_json, lambda s, db: realms.activate(s, db, target, patch))
    _show_patch(state, as_json)


@patch_app.command("rollback")
def patch_rollback(
    ctx: typer.Context,
    realm: RealmOpt = None,
    pool: PoolOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Re-activate the parent of the active patch (the base content after the first)."""
    from realmkit import realms

    target = _target(realm, pool)
    state = on_db(ctx, as_json, lambda s, db: realms.rollback(s, db, target))
    _show_patch(state, as_json)


@patch_app.command("list")
def patch_list(
    ctx: typer.Context,
    game: Annotated[str, typer.Option("--game", "-g", help="The game.")] = "classic",
    as_json: JsonOption = False,
) -> None:
    """A game's patches with their parents."""
    from realmkit import realms

    found = on_db(ctx, as_json, lambda _, db: realms.patches_of(db, game))
    if as_json:
        print_json(found)
        return
    from rich.table import Table

    table = Table("id", "patch", "parent", "created", "overrides", title=f"patches of {game}")
    for p in found:
        table.add_row(
            str(p.patch_id),
            p.name,
            str(p.parent_id or "-"),
            p.created_at.isoformat(timespec="seconds"),
            ", ".join(sorted(p.overrides)) or "-",
        )
    out.print(table)


def _target(realm: str | None, pool: str | None) -> PatchTarget:
    if (realm is None) == (pool is None):
        raise typer.BadParameter("name exactly one of --realm and --pool")
    from realmkit.realms import PatchTarget

    return PatchTarget(realm, pool)


def _show_patch(state: PatchState, as_json: bool) -> None:
    if as_json:
        print_json({"ok": True, **msgspec.to_builtins(state)})
        return
    running = state.patch or "the base content"
    out.print(f"{state.target} ({state.game_id}) now runs {running}")
    if not state.announced:
        out.print("NATS was not reachable: world nodes pick the change up within seconds")
