"""The Kubernetes manifests of deploy/ are valid objects and agree with realmkit.

Each object is checked against the Kubernetes API schema (kubernetes-validate,
strict: an unknown field fails); the kustomization applies every manifest;
the node file in the ConfigMap is one realmkit loads, naming every
StatefulSet pod with its role; only login and gateway are exposed by ingress;
every node serves its metrics on a fixed port that Prometheus finds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import generate_latest

from realmkit.nodes.backup.metrics import BackupMetrics
from realmkit.nodes.factory import find_spec
from realmkit.nodes.metrics import node_registry
from realmkit.settings import Role, Settings, load_settings

DEPLOY = Path(__file__).parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
VERSION = "1.31.0"
EXPOSED = {"login", "gateway"}
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 (a pod listens on its own address)


def _objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path.name, doc))
    return found


OBJECTS = [(f, o) for f, o in _objects() if o["kind"] != "Kustomization"]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [o for _, o in OBJECTS if o["kind"] == kind]


@pytest.mark.parametrize(
    "obj", [o for _, o in OBJECTS], ids=[f"{f}:{o['metadata']['name']}" for f, o in OBJECTS]
)
def test_every_object_is_valid_for_kubernetes(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, VERSION, strict=True)


def test_the_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def _node_file(tmp_path: Path) -> Settings:
    node_file = tmp_path / "realmkit.toml"
    node_file.write_text(_of_kind("ConfigMap")[0]["data"]["realmkit.toml"])
    return load_settings(node_file, env={})


def test_the_node_file_names_every_pod_with_its_role(tmp_path: Path) -> None:
    """Each StatefulSet pod (``realmkit-<role>-<i>``) runs ``realmkit node <pod>``: the
    ConfigMap's node file must list it with that role. World pods say their role."""
    settings = _node_file(tmp_path)
    listed = {n.name: n.role for n in settings.nodes}
    for sts in _of_kind("StatefulSet"):
        role = Role(sts["metadata"]["labels"]["app.kubernetes.io/component"])
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["node", "$(POD_NAME)"]
        for i in range(sts["spec"]["replicas"]):
            assert listed.get(f"{sts['metadata']['name']}-{i}") == role
    (world,) = _of_kind("Deployment")
    assert world["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "node",
        "$(POD_NAME)",
        "--role",
        Role.WORLD.value,
    ]
    assert set(listed.values()) | {Role.WORLD} == set(Role) - {Role.REVIVER}


def test_players_reach_login_and_gateways_only() -> None:
    """Ingress routes lead to services of login or gateway pods; world nodes,
    orchestrators and matchmakers have no route and no exposed service."""
    services = {s["metadata"]["name"]: s for s in _of_kind("Service")}
    backends = [
        path["backend"]["service"]["name"]
        for ingress in _of_kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends
    for name in backends:
        selector = services[name]["spec"]["selector"]
        assert selector.get("app.kubernetes.io/component") in EXPOSED
    for service in services.values():
        exposed = service["spec"].get("type", "ClusterIP") != "ClusterIP"
        component = service["spec"]["selector"].get("app.kubernetes.io/component")
        assert not exposed or component in EXPOSED


@pytest.mark.parametrize(
    "workload",
    [o for _, o in OBJECTS if o["kind"] in ("StatefulSet", "Deployment")],
    ids=lambda o: o["metadata"]["name"],
)
def test_every_node_serves_metrics_on_a_fixed_port_prometheus_finds(
    workload: dict[str, Any], tmp_path: Path
) -> None:
    """A node pod declares a "metrics" containerPort and the prometheus.io annotations
    naming it; the node file gives each of its nodes (world pods: [scaling]) that port
    on every address (a free port picked at start is useless in a pod)."""
    settings = _node_file(tmp_path)
    name = workload["metadata"]["name"]
    pod = workload["spec"]["template"]
    ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0].get("ports", [])}
    assert "metrics" in ports, f"{name} declares no metrics port"
    annotations = pod["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true", name
    assert annotations.get("prometheus.io/port") == str(ports["metrics"]), name
    if workload["kind"] == "Deployment":  # world pods, named by their ReplicaSet
        specs = [find_spec(settings, f"{name}-7d9c5-x2x4q", Role.WORLD)]
    else:
        specs = [settings.node(f"{name}-{i}") for i in range(workload["spec"]["replicas"])]
    for spec in specs:
        assert (spec.host, spec.metrics_port) == (EVERY_ADDRESS, ports["metrics"]), spec.name


def test_prometheus_may_scrape_every_pod_and_finds_them() -> None:
    """A NetworkPolicy lets scrapes reach every realmkit pod's metrics port, and
    prometheus-kubernetes.yml keeps the pods by the annotations the manifests carry
    (prometheus.yml keeps its file_sd job for clusters on one machine)."""
    allowed = [
        policy
        for policy in _of_kind("NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        for port in rule.get("ports", [])
        if port["port"] == "metrics"
    ]
    assert allowed
    assert allowed[0]["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "realmkit"
    }
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-kubernetes.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["realmkit"]}}]
    sources = {label for rule in job["relabel_configs"] for label in rule.get("source_labels", [])}
    for annotation in ("prometheus.io/scrape", "prometheus.io/port"):
        meta = "__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-z0-9]", "_", annotation)
        assert meta in sources, annotation
    local = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert any("file_sd_configs" in j for j in local["scrape_configs"])


def test_the_backup_alerts_use_what_a_backup_node_serves() -> None:
    """Every realmkit_backup_ series the alerts query is one the backup node serves
    (the cluster tests run no backup node: their check of the alerts cannot see it)."""
    registry = node_registry("backup", "backup-1")
    BackupMetrics(registry)
    served = set(
        re.findall(r"^(realmkit_backup_[a-z0-9_]+)", generate_latest(registry).decode(), re.M)
    )
    alerts = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    used = set(re.findall(r"\b(realmkit_backup_[a-z0-9_]+)\b", alerts))
    assert {"realmkit_backup_restore_check_success"} <= used
    assert used <= served, sorted(used - served)
