"""What `realmkit up` and `realmkit status` show: a live view that fits the terminal,
names instead of numbers, and node states that do not lie."""

from __future__ import annotations

import io

from rich.console import Console

from realmkit.cli.tables import (
    ClusterStatus,
    InstanceRow,
    NodeRow,
    live_view,
    shown_state,
    status_tables,
)
from realmkit.client.bots import SwarmSummary
from realmkit.store.records import RealmListing, RealmStatus


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
