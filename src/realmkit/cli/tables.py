"""What ``realmkit status`` and ``realmkit up`` show, without I/O: the rows and their tables.

``status`` prints every table in full (the terminal scrolls). ``up``'s live
view is redrawn in place, so it must fit the terminal: ``live_view`` lays the
sections out for a width and a height, gives every section a share of the
rows, and ends a cut section with a "+N more" row. Every row is one line
(cells are cut with an ellipsis, never wrapped), which is what makes the
height predictable.

A node's row in ``cluster.nodes`` keeps the last state it wrote: one that was
killed, or drained and left, would read ``ready`` or ``draining`` forever. So
the state shown also weighs its heartbeat and its spaces (``shown_state``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from realmkit.lifecycle.node import NodeState, seen

# The rows are realmkit.status's (re-exported: this module's callers name them).
from realmkit.status import ClusterStatus as ClusterStatus
from realmkit.status import InstanceRow as InstanceRow
from realmkit.status import NodeRow as NodeRow
from realmkit.store.records import CellStatus

if TYPE_CHECKING:
    from realmkit.client.bots import SwarmSummary
    from realmkit.supervision.reviver import Reviver


def shown_state(node: NodeRow) -> str:
    """The state to show (``realmkit.lifecycle.node.seen``)."""
    return seen(NodeState(node.state), node.role, node.heartbeat_age_s, node.spaces)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


# --- the rows of each section ---------------------------------------------------------


def _realm_rows(status: ClusterStatus) -> list[list[str]]:
    return [
        [r.name, r.game_id, r.pool, r.status, r.patch or "-", str(r.population)]
        for r in status.realms
    ]


def _node_rows(status: ClusterStatus, reviver: Reviver | None) -> list[list[str]]:
    children = {c.name: c for c in reviver.children} if reviver else {}
    rows = []
    # World nodes first: when the live view cuts the list, they are what it keeps.
    for n in sorted(status.nodes, key=lambda n: (n.role != "world", n.node_id)):
        row = [n.node_id, n.role, shown_state(n), _ago(n.heartbeat_age_s)]
        if reviver is not None:
            child = children.get(n.node_id)
            row += [str(child.pid or "-"), str(child.restarts)] if child else ["-", "-"]
        rows.append(row)
    return rows


def _instance_rows(status: ClusterStatus) -> list[list[str]]:
    return [
        [
            str(i.instance_id),
            i.realm or str(i.realm_id or "pool"),
            i.map or str(i.map_id),
            i.kind,
            i.state,
            i.node_id or "-",
            str(i.players),
        ]
        for i in status.instances
    ]


VERIFIED = {True: "verified", False: "VERIFY FAILED", None: "not verified"}


def backup_rows(status: ClusterStatus) -> list[list[str]]:
    """Per backup node: the latest backup, its age and verification; the latest
    restore check, its outcome (with why it failed), its age and duration."""
    rows = []
    for b in status.backups:
        if b.check_ok is None:
            check = "none yet"
        elif b.check_ok:
            check = f"ok ({b.check_characters} characters)"
        else:
            check = f"FAILED: {b.check_reason}"
        rows.append(
            [
                b.node_id,
                b.backup_id or "none",
                "-" if b.backup_age_s is None else _ago(b.backup_age_s),
                VERIFIED[b.backup_verified] if b.backup_id else "-",
                check,
                b.check_backup_id or "-",
                "-" if b.check_age_s is None else _ago(b.check_age_s),
                "-" if b.check_ok is None else f"{b.check_seconds:.1f}s",
            ]
        )
    return rows


def restart_rows(status: ClusterStatus) -> list[list[str]]:
    """Per open realm restart: its realm, when, why, where it stands, the last mark told."""
    return [
        [
            r.realm,
            f"in {r.remaining:.0f}s" if r.remaining > 0 else "now",
            r.reason,
            r.state.value,
            "-" if r.warned_seconds is None else f"at the {r.warned_seconds}s mark",
        ]
        for r in status.restarts
    ]


RESTART_COLUMNS = ("realm", "restarts", "why", "state", "last warning")
BACKUP_COLUMNS = (
    "backup node",
    "latest backup",
    "age",
    "verification",
    "restore check",
    "of backup",
    "checked",
    "took",
)
REALM_COLUMNS = ("realm", "game", "pool", "status", "patch", "players")
INSTANCE_COLUMNS = ("instance", "realm", "map", "kind", "state", "node", "players")


def _node_columns(reviver: Reviver | None) -> tuple[str, ...]:
    base = ("node", "role", "state", "heartbeat")
    return (*base, "pid", "restarts") if reviver is not None else base


def _leaders(status: ClusterStatus) -> str:
    return (
        f"orchestrators' leader: {status.leader or 'none'}, "
        f"matchmakers' leader: {status.matchmaker or 'none'}"
    )


# --- full tables (realmkit status) -----------------------------------------------------


def _full_table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row)
    return table


def status_tables(status: ClusterStatus, reviver: Reviver | None = None) -> Group:
    group = Group(
        _full_table("realms", REALM_COLUMNS, _realm_rows(status)),
        _full_table(
            f"nodes ({_leaders(status)})", _node_columns(reviver), _node_rows(status, reviver)
        ),
        _full_table("instances", INSTANCE_COLUMNS, _instance_rows(status)),
    )
    if status.worlds:
        worlds = Table(
            "world node",
            "spaces",
            "players",
            "capacity",
            "tick p99 ms",
            "late ticks",
            title="world nodes (live, from NATS)",
        )
        for w in status.worlds:
            worlds.add_row(
                w.node_id,
                str(w.spaces),
                str(w.players),
                str(w.capacity),
                f"{w.tick_p99_ms:.1f}",
                str(w.late_ticks),
            )
        group.renderables.append(worlds)
    if status.cells:
        group.renderables.append(_cells_of_continents(status))
    if status.backups:
        group.renderables.append(_full_table("backups", BACKUP_COLUMNS, backup_rows(status)))
    if status.restarts:
        group.renderables.append(
            _full_table("realm restarts", RESTART_COLUMNS, restart_rows(status))
        )
    if status.gateways:
        gateways = Table(
            "gateway",
            "players",
            "capacity",
            "send p99 ms",
            "url",
            title="gateways (live, from NATS)",
        )
        for g in status.gateways:
            gateways.add_row(
                g.gateway_id, str(g.players), str(g.capacity), f"{g.send_p99_ms:.1f}", g.url
            )
        group.renderables.append(gateways)
    return group


def _cells_of_continents(status: ClusterStatus) -> Table:
    """Each continent's cells, with what their world nodes report live (when heard):
    entities the cell owns, plus the ghosts it holds of its neighbours'."""
    loads = {s.instance_id: s for w in status.worlds for s in w.space_loads}
    table = Table(
        "continent",
        "cell",
        "x",
        "y",
        "node",
        "players",
        "entities",
        "p99 ms",
        title="cells (continent: realm, map, layout version)",
        box=box.SIMPLE_HEAD,
    )
    table.columns[0].no_wrap = True
    for c in status.cells:
        load = loads.get(c.instance_id)
        table.add_row(
            f"{c.realm} {c.map_id} v{c.version}",
            str(c.cell_id),
            f"{c.min_x:.0f}-{c.max_x:.0f}",
            f"{c.min_y:.0f}-{c.max_y:.0f}",
            c.node_id or "-",
            str(c.players),
            "-" if load is None else f"{load.entities} +{load.ghosts}",
            "-" if load is None else f"{load.tick_p99_ms:.1f}",
        )
    return table


def bots_table(s: SwarmSummary, *, live: bool) -> Table:
    title = "bots (live)" if live else "bots: summary"
    table = Table(
        "bots", "in world", "frames/s", "B/s per bot", "p50 ms", "p99 ms", "errors", title=title
    )
    cells = [
        str(s.bots),
        str(s.connected if live else s.entered),
        f"{s.frames_per_second:.0f}",
        f"{s.bytes_per_second_per_bot:.0f}",
        f"{s.latency_p50_ms:.1f}",
        f"{s.latency_p99_ms:.1f}",
        str(s.errors),
    ]
    if s.queued:
        for column in ("queued", "proposals", "matches", "queue wait p50 s"):
            table.add_column(column)
        cells += [str(s.queued), str(s.proposals), str(s.matches), f"{s.queue_wait_p50_s:.1f}"]
    if s.in_parties:
        table.add_column("in parties")
        cells.append(str(s.in_parties))
    if s.resumes:
        table.add_column("resumes")
        cells.append(str(s.resumes))
    if s.chat_sent or s.chat_received or s.whispers_refused:
        for column in ("chat sent", "heard", "whispers refused"):
            table.add_column(column)
        cells += [str(s.chat_sent), str(s.chat_received), refusals(s.whispers_refused)]
    if s.trades_committed or s.trades_cancelled:
        for column in ("trades", "cancelled"):
            table.add_column(column)
        cells += [str(s.trades_committed), str(s.trades_cancelled)]
    table.add_row(*cells)
    return table


def refusals(by_code: dict[str, int]) -> str:
    """``OFFLINE 3, NOT_FOUND 1``: refusals by code, the most first (``-``: none)."""
    ranked = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{code} {n}" for code, n in ranked) or "-"


# --- the live view (realmkit up) --------------------------------------------------------

# Sections in the order shown; the first ones lose their rows last.
_SHRINK_ORDER = ("realms", "instances", "nodes")


def _compact_table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
    )
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*row)
    return table


def _bots_line(s: SwarmSummary) -> Text:
    """One line (cut with an ellipsis when the terminal is narrower)."""
    line = (
        f"bots {s.connected}/{s.bots} in world · errors {s.errors} · "
        f"latency p50 {s.latency_p50_ms:.0f} p99 {s.latency_p99_ms:.0f} ms · "
        f"{s.frames_per_second:.0f} frames/s · {s.bytes_per_second_per_bot:.0f} B/s per bot"
    )
    if s.queued:
        line += (
            f" · queued {s.queued}, proposals {s.proposals}, matches {s.matches}, "
            f"wait p50 {s.queue_wait_p50_s:.1f} s"
        )
    if s.in_parties:
        line += f" · in parties {s.in_parties}"
    if s.chat_sent or s.chat_received:
        line += f" · chat sent {s.chat_sent}, heard {s.chat_received}"
    if s.trades_committed or s.trades_cancelled:
        line += f" · trades {s.trades_committed} (cancelled {s.trades_cancelled})"
    return Text(line, no_wrap=True, overflow="ellipsis")


def height_of(renderable: RenderableType, width: int) -> int:
    """Lines ``renderable`` takes on a terminal ``width`` columns wide."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    return len(console.render_lines(renderable, console.options, pad=False))


def _allot(sizes: dict[str, int], budget: int) -> dict[str, int]:
    """Lines per section: one each in turn until the budget or the rows run out."""
    given = dict.fromkeys(sizes, 0)
    while budget > 0 and any(given[s] < sizes[s] for s in sizes):
        for s in sizes:
            if budget > 0 and given[s] < sizes[s]:
                given[s] += 1
                budget -= 1
    return given


def live_view(
    status: ClusterStatus,
    reviver: Reviver | None,
    bots: SwarmSummary | None,
    *,
    width: int,
    height: int,
) -> Group:
    """The cluster in ``height`` lines of ``width`` columns at most: a summary line,
    the bots, then realms, nodes and instances sharing the lines left."""
    children = reviver.children if reviver else []
    running = sum(c.pid is not None for c in children)
    summary = Text(
        f"node file: {running}/{len(children)} running "
        f"(restarts {sum(c.restarts for c in children)}) · instances {len(status.instances)} · "
        f"players {status.players}",
        no_wrap=True,
        overflow="ellipsis",
    )
    fixed: list[RenderableType] = [
        summary,
        Text(_leaders(status), no_wrap=True, overflow="ellipsis"),
    ]
    if bots is not None:
        fixed.append(_bots_line(bots))
    columns = {
        "realms": REALM_COLUMNS,
        "nodes": _node_columns(reviver),
        "instances": INSTANCE_COLUMNS,
    }
    rows = {
        "realms": _realm_rows(status),
        "nodes": _node_rows(status, reviver),
        "instances": _instance_rows(status),
    }
    sections = [s for s in ("realms", "nodes", "instances") if rows[s]]
    overhead = {s: height_of(_compact_table(s, columns[s], []), width) for s in sections}
    # One line spare: the cursor sits under the view.
    budget = height - 1 - sum(height_of(f, width) for f in fixed)
    # Too short for every section's title, header and a row: drop sections, each
    # leaving a one-line note in its place.
    while sections and budget - sum(overhead[s] + 1 for s in sections) < 0:
        sections.remove(next(s for s in _SHRINK_ORDER if s in sections))
        budget -= 1
    lines = _allot({s: len(rows[s]) for s in sections}, budget - sum(overhead[s] for s in sections))
    shown: list[RenderableType] = list(fixed)
    for s in ("realms", "nodes", "instances"):
        if s not in sections:
            if rows[s]:
                shown.append(Text(f"{s}: {len(rows[s])} (no room)", style="dim"))
            continue
        keep = rows[s] if lines[s] >= len(rows[s]) else rows[s][: lines[s] - 1]
        table = _compact_table(f"{s} ({len(rows[s])})", columns[s], keep)
        if len(keep) < len(rows[s]):
            table.add_row(f"+{len(rows[s]) - len(keep)} more", style="dim")
        shown.append(table)
    return Group(*shown)


def cells_table(realm: str, rows: list[CellStatus]) -> Table:
    """``realmkit cells``: one row a cell."""
    table = Table(
        "map",
        "version",
        "cell",
        "x",
        "y",
        "instance",
        "node",
        "state",
        "players",
        title=f"cells of {realm}",
    )
    for c in rows:
        table.add_row(
            str(c.map_id),
            str(c.version),
            str(c.cell_id),
            f"{c.min_x:.0f}-{c.max_x:.0f}",
            f"{c.min_y:.0f}-{c.max_y:.0f}",
            str(c.instance_id),
            c.node_id or "-",
            c.state,
            str(c.players),
        )
    return table
