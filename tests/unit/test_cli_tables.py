"""What `realmkit up` and `realmkit status` show: a live view that fits the terminal,
names instead of numbers, and node states that do not lie."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import msgspec
from rich.console import Console

from realmkit.cli.tables import (
    ClusterStatus,
    InstanceRow,
    NodeRow,
    backup_rows,
    live_view,
    restart_rows,
    shown_state,
    status_tables,
)
from realmkit.client.bots import SwarmSummary
from realmkit.lifecycle.restart import RestartState
from realmkit.store.records import BackupSummary, RealmListing, RealmStatus
from realmkit.store.restarts import RealmRestart


def _realm(i: int) -> RealmListing:
    return RealmListing(
        realm_id=i,
        name=f"Realm{i}",
        game_id="classic",
        pool_id=1,
        pool="europe",
        status=RealmStatus.ONLINE,
        current_phase=0,
        active_patch_id=None,
        patch=None,
        population=5,
    )


def _cluster(nodes: int, instances: int) -> ClusterStatus:
    return ClusterStatus(
        realms=[_realm(i) for i in range(1, 4)],
        nodes=[NodeRow(f"world-{i}", "world", "ready", 0.4, spaces=1) for i in range(nodes)],
        instances=[
            InstanceRow(
                i, 1, 3, "dungeon", "ready", "world-1", 2, realm="Azure", map="Gloomdeep Caverns"
            )
            for i in range(instances)
        ],
        leader="orchestrator-1",
        matchmaker="matchmaker-2",
    )


BOTS = SwarmSummary(
    bots=50,
    entered=50,
    connected=48,
    seconds=10.0,
    frames=1000,
    frames_per_second=100.0,
    bytes_per_second_per_bot=900.0,
    latency_p50_ms=12.0,
    latency_p99_ms=40.0,
    errors=0,
    last_error="",
    queued=20,
    proposals=4,
    matches=2,
    queue_wait_p50_s=3.0,
    in_parties=10,
)


def _render(status: ClusterStatus, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, file=io.StringIO(), color_system=None)
    console.print(live_view(status, None, BOTS, width=width, height=height))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return str(text).rstrip("\n").split("\n")


def test_the_live_view_fits_80_by_24() -> None:
    """11 nodes, 30 instances and a bot swarm fit 80x24: every section is there,
    cut sections say how many rows they hide."""
    lines = _render(_cluster(nodes=11, instances=30), 80, 24)
    assert len(lines) <= 23
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for section in ("bots 48/50", "realms (3)", "nodes (11)", "instances (30)"):
        assert section in text
    assert "more" in text


def test_a_tall_terminal_shows_everything() -> None:
    """With room enough nothing is hidden."""
    text = "\n".join(_render(_cluster(nodes=11, instances=30), 120, 80))
    assert "more" not in text
    assert text.count("Gloomdeep") == 30


def test_a_tiny_terminal_still_fits() -> None:
    """Even 40x10 fits: sections without room say so in a line."""
    lines = _render(_cluster(nodes=11, instances=30), 40, 10)
    assert len(lines) <= 9
    assert max(len(line) for line in lines) <= 40


def test_instances_show_realm_and_map_names() -> None:
    """`realmkit status` shows an instance's realm and map by name."""
    console = Console(width=150, file=io.StringIO(), color_system=None)
    console.print(status_tables(_cluster(nodes=1, instances=1)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Azure" in text
    assert "Gloomdeep Caverns" in text


def test_drained_and_silent_nodes_are_not_draining_forever() -> None:
    """A draining world node with no space left reads drained; a node whose
    heartbeat stopped reads silent, whatever its row says."""
    assert shown_state(NodeRow("world-1", "world", "draining", 0.5, spaces=2)) == "draining"
    assert shown_state(NodeRow("world-1", "world", "draining", 0.5, spaces=0)) == "drained"
    assert shown_state(NodeRow("world-1", "world", "draining", 600.0)) == "silent (was draining)"
    assert shown_state(NodeRow("login", "login", "ready", 600.0)) == "silent (was ready)"
    assert shown_state(NodeRow("world-2", "world", "stopped", 600.0)) == "stopped"
    assert shown_state(NodeRow("world-2", "world", "ready", 0.5)) == "ready"


def test_the_bots_line_and_the_leaders_take_one_line_each() -> None:
    """At 80 columns the bot swarm's line is cut, not wrapped, and both leaders are
    named in full."""
    lines = _render(_cluster(nodes=11, instances=30), 80, 24)
    bots = [i for i, line in enumerate(lines) if line.startswith("bots 48/50")]
    assert len(bots) == 1
    assert lines[bots[0]].endswith("…")
    assert not lines[bots[0] + 1].startswith(" ")
    assert any(line.endswith("matchmakers' leader: matchmaker-2") for line in lines)


def _backups(*, check_ok: bool | None, verified: bool | None) -> BackupSummary:
    return BackupSummary(
        node_id="backup-1",
        backup_id="20261203T210000",
        backup_age_s=5400.0,
        backup_verified=verified,
        check_ok=check_ok,
        check_backup_id="" if check_ok is None else "20261203T210000",
        check_reason="" if check_ok is not False else "1 table(s) unreadable in the copy",
        check_seconds=4.2,
        check_age_s=None if check_ok is None else 30.0,
        check_characters=3,
    )


def test_status_shows_the_latest_backup_and_restore_check() -> None:
    """The backups section: the latest backup's age and verification, the latest
    restore check's outcome with why it failed, its age and duration."""
    failed = msgspec.structs.replace(
        _cluster(1, 0), backups=[_backups(check_ok=False, verified=True)]
    )
    [row] = backup_rows(failed)
    assert row == [
        "backup-1",
        "20261203T210000",
        "90 min ago",
        "verified",
        "FAILED: 1 table(s) unreadable in the copy",
        "20261203T210000",
        "30.0s ago",
        "4.2s",
    ]
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(status_tables(failed))
    assert "FAILED: 1 table(s) unreadable" in console.file.getvalue()  # type: ignore[attr-defined]
    never = ClusterStatus(
        realms=[], nodes=[], instances=[], backups=[_backups(check_ok=None, verified=None)]
    )
    [row] = backup_rows(never)
    assert row[3:] == ["not verified", "none yet", "-", "-", "-"]
    assert backup_rows(ClusterStatus(realms=[], nodes=[], instances=[])) == []


def test_status_shows_pending_realm_restarts() -> None:
    """A restart counting down shows its realm, the time left and the last mark told;
    with none open, the section is left out."""
    now = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    pending = RealmRestart(
        restart_id=4,
        realm_id=1,
        realm="Azure",
        due_at=now,
        remaining=295.4,
        reason="daily",
        state=RestartState.PENDING,
        warned_seconds=300,
        spaces=0,
        players=0,
        detail="",
        requested_at=now,
        finished_at=None,
    )
    status = msgspec.structs.replace(_cluster(1, 0), restarts=[pending])
    assert restart_rows(status) == [["Azure", "in 295s", "daily", "pending", "at the 300s mark"]]
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(status_tables(status))
    assert "realm restarts" in console.file.getvalue()  # type: ignore[attr-defined]
    quiet = Console(width=200, file=io.StringIO(), color_system=None)
    quiet.print(status_tables(_cluster(1, 0)))
    assert "realm restarts" not in quiet.file.getvalue()  # type: ignore[attr-defined]
