"""Build the node object for one entry of the node file. The CLI's only entry to nodes."""

from __future__ import annotations

import msgspec

from realmkit.engines.embedded import Endpoints
from realmkit.errors import ConfigError, UsageError
from realmkit.nodes.backup.node import BackupNode
from realmkit.nodes.base import Node
from realmkit.nodes.gateway.node import GatewayNode
from realmkit.nodes.login.node import LoginNode
from realmkit.nodes.matchmaker.node import MatchmakerNode
from realmkit.nodes.orchestrator.launcher import make_launcher
from realmkit.nodes.orchestrator.node import OrchestratorNode
from realmkit.nodes.world.node import WorldNode
from realmkit.settings import NodeSpec, Role, Settings


def build_node(settings: Settings, spec: NodeSpec, endpoints: Endpoints) -> Node:
    if spec.role is Role.LOGIN:
        return LoginNode(spec, endpoints, limits=settings.login)
    if spec.role is Role.WORLD:
        return WorldNode(spec, endpoints, settings.instances.time_dilation)
    if spec.role is Role.ORCHESTRATOR:
        return OrchestratorNode(
            spec,
            endpoints,
            settings.instances,
            make_launcher(settings),
            settings.scaling,
            settings.cells,
            settings.restarts,
            settings.social,
        )
    if spec.role is Role.GATEWAY:
        return GatewayNode(spec, endpoints, settings.social, settings.instances.resume_grace)
    if spec.role is Role.BACKUP:
        return BackupNode(spec, endpoints, settings.backup, settings.backup_path)
    if spec.role is Role.MATCHMAKER:
        return MatchmakerNode(spec, endpoints, settings.matchmaking)
    raise UsageError(f"role {spec.role.value} cannot run as a node yet", role=spec.role.value)


def find_spec(settings: Settings, name_or_role: str, role: Role | None = None) -> NodeSpec:
    """A node by name, or the first node of that role; with ``role``, a name the
    node file does not list is a node of that role with default settings (how
    launched world nodes and Kubernetes pods run). World nodes made so take
    ``[scaling] world_capacity`` players and serve metrics on ``world_host`` and
    ``world_metrics_port``."""
    for spec in settings.nodes:
        if spec.name == name_or_role:
            if role is not None and spec.role is not role:
                raise ConfigError(
                    "nodes", f"{spec.name} is a {spec.role.value} node, not {role.value}"
                )
            return spec
    if role is not None:
        fields: dict[str, object] = {"name": name_or_role, "role": role.value}
        if role is Role.WORLD:
            fields["capacity"] = settings.scaling.world_capacity
            fields["host"] = settings.scaling.world_host
            fields["metrics_port"] = settings.scaling.world_metrics_port
        try:
            return msgspec.convert(fields, NodeSpec)
        except msgspec.ValidationError as exc:
            raise ConfigError("node name", str(exc)) from exc
    for spec in settings.nodes:
        if spec.role.value == name_or_role:
            return spec
    return settings.node(name_or_role)  # raises ConfigError listing the names
