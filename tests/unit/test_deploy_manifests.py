"""The Kubernetes manifests of deploy/ are valid objects and agree with realmkit.

Each object is checked against the Kubernetes API schema (kubernetes-validate,
strict: an unknown field fails); the kustomization applies every manifest;
the node file in the ConfigMap is one realmkit loads, naming every
StatefulSet pod with its role; only login and gateway are exposed by ingress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from realmkit.settings import Role, load_settings

KUBERNETES = Path(__file__).parents[2] / "deploy" / "kubernetes"
VERSION = "1.31.0"
EXPOSED = {"login", "gateway"}


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


def test_the_node_file_names_every_pod_with_its_role(tmp_path: Path) -> None:
    """Each StatefulSet pod (``realmkit-<role>-<i>``) runs ``realmkit node <pod>``: the
    ConfigMap's node file must list it with that role. World pods say their role."""
    node_file = tmp_path / "realmkit.toml"
    node_file.write_text(_of_kind("ConfigMap")[0]["data"]["realmkit.toml"])
    settings = load_settings(node_file, env={})
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
