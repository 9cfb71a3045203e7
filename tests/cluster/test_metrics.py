"""Every node of a running cluster serves Prometheus metrics that promtool accepts,
and deploy/'s Prometheus configuration and Grafana dashboard use only what is served."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from invariants import fetch
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_instances import enter_at

from realmkit.nodes.backup.metrics import BackupMetrics
from realmkit.nodes.metrics import node_registry

DEPLOY = Path(__file__).parents[2] / "deploy"
WAIT = 20.0
ROLES = {"login", "gateway", "world", "orchestrator", "matchmaker"}
# Families each role serves, whatever it does (a world node with a space has its
# space's series too: checked below).
EXPECTED = {
    "login": {"realmkit_login_requests", "realmkit_login_request_seconds"},
    "gateway": {"realmkit_gateway_connections", "realmkit_gateway_sent_bytes"},
    "world": {"realmkit_world_spaces", "realmkit_space_tick_seconds"},
    "orchestrator": {"realmkit_orchestrator_leader", "realmkit_orchestrator_restores"},
    "matchmaker": {"realmkit_matchmaker_leader", "realmkit_matchmaker_proposals"},
}


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: .ci/run installs Debian's prometheus package"
    return found


async def _scrapes(http, cluster) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Each running node's role and /metrics text, found by its row in cluster.nodes."""
    rows = await fetch(
        cluster.database_url,
        "SELECT node_id, role, host, metrics_port FROM cluster.nodes WHERE state = 'ready'",
    )
    found = {}
    for row in rows:
        assert row["metrics_port"] > 0, f"{row['node_id']} registered no metrics port"
        url = f"http://{row['host']}:{row['metrics_port']}/metrics"
        async with http.get(url) as resp:
            assert resp.status == 200, (url, resp.status)
            found[row["node_id"]] = (row["role"], await resp.text())
    return found


SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _names(text: str) -> set[str]:
    """The families served (also those with no sample yet: a histogram by activity
    before the first match) and their samples' names."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {f"{family.name}{suffix}" for suffix in SUFFIXES}
    return names


def _promtool_run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], input=stdin, capture_output=True, text=True)


@pytest.mark.slow
async def test_every_node_serves_metrics_promtool_accepts(http, cluster, eventually) -> None:  # type: ignore[no-untyped-def]
    """Every node serves /metrics on the port its row names; promtool finds no fault in
    any; each role's families are there, a space's with its labels and the player."""
    client = await enter_at(http, cluster, "Gauger", (352.0, 300.0))
    try:
        scrapes = await _scrapes(http, cluster)
        assert {role for role, _ in scrapes.values()} == ROLES
        assert len(scrapes) == 9
        for node, (role, text) in scrapes.items():
            checked = await asyncio.to_thread(_promtool_run, "check", "metrics", stdin=text)
            assert checked.returncode == 0, (node, checked.stdout, checked.stderr)
            families = {f.name for f in text_string_to_metric_families(text)}
            assert EXPECTED[role] <= families, (node, EXPECTED[role] - families)
            assert f'realmkit_node_info{{node="{node}",role="{role}"}} 1.0' in text

        async def player_counted() -> bool:
            worlds = [t for role, t in (await _scrapes(http, cluster)).values() if role == "world"]
            return any(
                s.value == 1 and s.labels["instance_id"] != ""
                for text in worlds
                for f in text_string_to_metric_families(text)
                if f.name == "realmkit_space_players"
                for s in f.samples
            )

        await eventually(player_counted, WAIT, "the player counted in its space's metrics")
        gateways = [t for role, t in (await _scrapes(http, cluster)).values() if role == "gateway"]
        sent = [
            s.value
            for text in gateways
            for f in text_string_to_metric_families(text)
            if f.name == "realmkit_gateway_sent_bytes"
            for s in f.samples
        ]
        assert max(sent) > 0, "a gateway wrote frames to the player"
        # Each node also left its target for Prometheus' file_sd.
        targets = sorted((cluster.data_dir / "metrics").glob("*.json"))
        assert {t.stem for t in targets} == set(scrapes)
        for target in targets:
            [entry] = json.loads(target.read_text())
            assert entry["labels"]["node"] == target.stem
    finally:
        await client.close()


@pytest.mark.slow
async def test_deploy_files_use_only_metrics_the_cluster_serves(http, cluster) -> None:  # type: ignore[no-untyped-def]
    """promtool accepts deploy/prometheus; every realmkit series the Grafana dashboard
    and the alerts query is one that some node of the cluster serves."""
    config = str(DEPLOY / "prometheus" / "prometheus.yml")
    checked = await asyncio.to_thread(_promtool_run, "check", "config", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    served = set()
    for _, text in (await _scrapes(http, cluster)).values():
        served |= _names(text)
    # This cluster runs no backup node (it needs Barman and a base backup): the
    # families of the registry one serves.
    backup = node_registry("backup", "backup-1")
    BackupMetrics(backup)
    served |= _names(generate_latest(backup).decode())
    dashboard = json.loads((DEPLOY / "grafana" / "realmkit.json").read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    queries.append((DEPLOY / "prometheus" / "alerts.yml").read_text())
    used = {
        name
        for query in queries
        for name in re.findall(r"\b((?:realmkit|process)_[a-z0-9_]+)\b", query)
    }
    assert len(used) > 20
    assert used <= served, sorted(used - served)
