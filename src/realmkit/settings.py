"""Cluster settings: the node file ``realmkit.toml`` plus environment overrides.

One typed object describes the whole cluster: where its data lives, which
NATS and PostgreSQL it uses (embedded when no URL is given), and which nodes
run with which role and port. Every process of the cluster reads the same
file, so ``realmkit node gateway-1`` on a second host finds its own entry.

Precedence, lowest first: built-in defaults, the TOML file, environment
variables (``REALMKIT_DATA_DIR``, ``REALMKIT_NATS_URL``,
``REALMKIT_DATABASE_URL``). ``REALMKIT_CONFIG`` names the file; otherwise
``realmkit.toml`` in the working directory is read when it exists.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import msgspec

from realmkit.errors import ConfigError

CONFIG_ENV = "REALMKIT_CONFIG"
DEFAULT_CONFIG_FILE = "realmkit.toml"


class Role(StrEnum):
    LOGIN = "login"
    GATEWAY = "gateway"
    WORLD = "world"
    ORCHESTRATOR = "orchestrator"
    MATCHMAKER = "matchmaker"
    REVIVER = "reviver"
    BACKUP = "backup"


Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
NodeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


class NodeSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One process of the cluster. ``port`` 0 means "pick a free one"."""

    name: NodeName
    role: Role
    host: str = "127.0.0.1"
    port: Port = 0
    metrics_port: Port = 0
    # Where players reach a gateway, when it differs from ws://host:port/ws
    # (a load balancer, TLS termination).
    public_url: str = ""
    # Players this node takes (world: in its spaces; gateway: connections).
    capacity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 2000


class EngineSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """External engines; an empty URL means "start the embedded one"."""

    nats_url: str = ""
    database_url: str = ""
    # The embedded PostgreSQL flushes to disk by default; tests turn it off.
    durable: bool = True
    # The embedded NATS's HTTP monitoring endpoint (no credentials): off unless asked.
    nats_monitoring: bool = False


Seconds = Annotated[float, msgspec.Meta(gt=0, le=7 * 86400)]


class InstanceSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the orchestrators run instances."""

    # A dungeon, battleground or arena with nobody inside is stopped after this.
    empty_grace: Seconds = 60.0
    # A character stays bound to the dungeon instance it entered for this long.
    dungeon_reset: Seconds = 3600.0
    # A world node whose heartbeat (every second) is this old is UNHEALTHY.
    node_timeout: Seconds = 3.0
    # A player whose gateway died has this long to resume through another one;
    # then its character leaves the world (saved), as on logout.
    resume_grace: Seconds = 60.0
    # Every space ticks this many times slower than real time (its clock counts
    # ticks, so the world itself is the same, only slower): for measuring a world
    # larger than the machine (bench/cells_capacity.py). 1 is real time.
    time_dilation: Annotated[float, msgspec.Meta(ge=1.0, le=1000.0)] = 1.0


class CellSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the orchestrators' leader moves the borders of continents' cells with load
    (``realmkit.cells.balance``)."""

    # Split, merge and move borders by load (off: only `realmkit cells` changes them).
    balance: bool = True
    # A cell with more players than this, or a tick p99 over split_tick_ms, is split.
    split_players: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 400
    split_tick_ms: Annotated[float, msgspec.Meta(gt=0.0)] = 35.0
    # Two sibling cells with this many players or fewer together are merged.
    merge_players: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 100
    # How often the leader looks, and how long after a change of a continent it waits.
    check_every: Seconds = 5.0
    cooldown: Seconds = 30.0

    def __post_init__(self) -> None:
        if self.merge_players * 2 > self.split_players:
            raise msgspec.ValidationError(
                "merge_players must be at most half of split_players (or borders flap)"
            )


Count = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class LoginSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the login node limits password guessing and sign-ups."""

    # Wrong passwords for one account from one address within a minute, before
    # that account waits out the minute there (elsewhere it is not locked).
    failures_per_account: Count = 5
    # Wrong passwords from one address within a minute whatever the accounts
    # (password spraying), before every login from there waits.
    failures_per_address: Count = 30
    # New accounts from one address per registration_window seconds.
    registrations_per_address: Count = 5
    registration_window: Seconds = 600.0
    # Addresses whose registrations are not limited (a load generator elsewhere;
    # `realmkit bots` on the node file's cluster makes its accounts in PostgreSQL).
    registrations_unlimited: tuple[str, ...] = ()


class BackupSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What the backup node keeps (``realmkit.backup``)."""

    # Where backups go ("": <data_dir>/backups); outside the database's data folder,
    # on another disk or host in a real deployment.
    folder: str = ""
    # A base backup this often (the WAL streams between them, as it is written).
    base_every: Seconds = 6 * 3600.0
    # Barman's retention policy: "REDUNDANCY N" or "RECOVERY WINDOW OF N DAYS".
    retention: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(REDUNDANCY [1-9][0-9]*|RECOVERY WINDOW OF [1-9][0-9]* (DAYS|WEEKS|MONTHS))$"
        ),
    ] = "REDUNDANCY 3"
    # The latest backup is restored into a scratch folder, started and checked this
    # often (``realmkit.backup.check``); 0: never.
    check_every: Annotated[float, msgspec.Meta(ge=0, le=30 * 86400)] = 6 * 3600.0
    # A restore check that has not finished after this is failed (and stopped).
    check_timeout: Seconds = 3600.0


class Launcher(StrEnum):
    LOCAL = "local"  # world nodes as processes on this machine
    COMMAND = "command"  # run launch_command / retire_command (e.g. kubectl scale)
    NONE = "none"  # no scaling: the world nodes of the node file only


Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Argv = tuple[str, ...]


class ScalingSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the orchestrators' leader adds and removes world nodes with player load."""

    launcher: Launcher = Launcher.LOCAL
    min_world_nodes: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 2
    max_world_nodes: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 8
    # Launch a world node when the free share of the world nodes' capacity is under this.
    scale_up_below: Fraction = 0.25
    # Retire an idle world node only if the free share stays above this without it.
    scale_down_above: Fraction = 0.5
    # A world node with no players for this long is idle.
    idle_after: Seconds = 120.0
    # A launch not seen as a ready world node after this long is given up.
    launch_timeout: Seconds = 60.0
    # Players a world node started by the local launcher takes.
    world_capacity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 2000
    # Where world nodes not listed in [[nodes]] (launched, Kubernetes pods) serve
    # their metrics: the address and port (0 picks a free one: many on one host).
    world_host: str = "127.0.0.1"
    world_metrics_port: Port = 0
    # For launcher = "command": argv lists; {name} and {wanted} (the number of world
    # nodes wanted after the change) are substituted in each argument.
    launch_command: Argv = ()
    retire_command: Argv = ()

    def __post_init__(self) -> None:
        if self.min_world_nodes > self.max_world_nodes:
            raise msgspec.ValidationError("min_world_nodes must not exceed max_world_nodes")
        if self.scale_down_above < self.scale_up_below:
            raise msgspec.ValidationError("scale_down_above must not be under scale_up_below")
        if self.launcher is Launcher.COMMAND and not (self.launch_command and self.retire_command):
            raise msgspec.ValidationError(
                'launcher = "command" needs launch_command and retire_command'
            )


class MatchmakingSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the matchmakers' leader forms groups and runs matches."""

    # Seconds between two matching rounds.
    tick: Annotated[float, msgspec.Meta(ge=0.05, le=10.0)] = 0.25
    # Seconds every member of a proposed group has to accept.
    accept_timeout: Annotated[float, msgspec.Meta(ge=1.0, le=600.0)] = 20.0
    # Caps every activity's duration (0: each activity's own duration).
    match_time_limit: Annotated[float, msgspec.Meta(ge=0.0, le=86_400.0)] = 0.0
    # Rated queues: two sides meet within this rating difference, widened by
    # window_widening per second the longer-waiting side has queued, up to window_max.
    window_start: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 100
    window_widening: Annotated[float, msgspec.Meta(ge=0.0, le=10_000.0)] = 10.0
    window_max: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 1000


Clock = Annotated[str, msgspec.Meta(pattern=r"^(|([01][0-9]|2[0-3]):[0-5][0-9])$")]


class RestartSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Realm restarts (``realmkit realm restart``, and a daily one): the
    orchestrators' leader counts them down (``realmkit.countdown``)."""

    # Every realm restarts at this time each day, "HH:MM" in UTC ("": only when asked).
    daily_at: Clock = ""
    # Seconds before a restart at which its players are told.
    warnings: tuple[Annotated[int, msgspec.Meta(ge=1, le=86_400)], ...] = (
        900,
        600,
        300,
        120,
        60,
        30,
        10,
    )


class SocialSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Mail (and, later, the rest of the social features' knobs)."""

    # An unread letter goes back to its sender after this many days (a letter
    # that came back stays with its sender).
    mail_days: Annotated[float, msgspec.Meta(gt=0, le=365)] = 30.0

    @property
    def mail_seconds(self) -> float:
        return self.mail_days * 86_400


class Settings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    data_dir: str = ".realmkit"
    cluster_name: str = "realmkit"
    engines: EngineSettings = EngineSettings()
    instances: InstanceSettings = InstanceSettings()
    scaling: ScalingSettings = ScalingSettings()
    cells: CellSettings = CellSettings()
    matchmaking: MatchmakingSettings = MatchmakingSettings()
    restarts: RestartSettings = RestartSettings()
    backup: BackupSettings = BackupSettings()
    login: LoginSettings = LoginSettings()
    social: SocialSettings = SocialSettings()
    nodes: tuple[NodeSpec, ...] = ()

    def __post_init__(self) -> None:
        dupes = [name for name, n in Counter(n.name for n in self.nodes).items() if n > 1]
        if dupes:
            raise msgspec.ValidationError(f"node names must be unique, repeated: {dupes}")
        clashes = port_clashes(self.nodes)
        if clashes:
            raise msgspec.ValidationError(f"two nodes on one port: {'; '.join(clashes)}")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def backup_path(self) -> Path:
        folder = self.backup.folder
        return Path(folder).expanduser().resolve() if folder else self.data_path / "backups"

    def nodes_with_role(self, role: Role) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role is role)

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise ConfigError(
            "nodes", f"no node named {name!r} (known: {[n.name for n in self.nodes]})"
        )


_ANY_HOST = {"0.0.0.0", "::", ""}  # noqa: S104 - compared with, never bound


def port_clashes(nodes: tuple[NodeSpec, ...], *, one_machine: bool = False) -> list[str]:
    """Nodes that would listen on one host and port (``port`` or ``metrics_port``;
    0 picks a free one and never clashes), as "a and b on 127.0.0.1:8081".

    Nodes of one file may run on many machines: two on the same named address
    share one, but two on ``0.0.0.0`` may be pods of their own, so they clash
    only when ``one_machine`` says every node runs here (``realmkit up``)."""
    taken: list[tuple[str, int, str]] = []
    clashes = []
    for spec in nodes:
        for port in [p for p in (spec.port, spec.metrics_port) if p]:
            for host, used, name in taken:
                wildcard = host in _ANY_HOST or spec.host in _ANY_HOST
                same = (one_machine or not wildcard) if host == spec.host else one_machine
                if used == port and same and (host == spec.host or wildcard):
                    clashes.append(f"{name} and {spec.name} on {spec.host}:{port}")
            taken.append((spec.host, port, spec.name))
    return clashes


DEFAULT_TOML = """\
# realmkit node file: the cluster that `realmkit` starts and joins.
# Every process reads this same file; environment variables override it:
#   REALMKIT_DATA_DIR, REALMKIT_NATS_URL, REALMKIT_DATABASE_URL

# Where embedded engines keep their data (relative to the working directory).
data_dir = ".realmkit"
cluster_name = "realmkit"

[engines]
# Empty: realmkit starts its own NATS and PostgreSQL on free loopback ports.
# Set them to use servers you run yourself, e.g.
#   nats_url = "nats://10.0.0.5:4222"
#   database_url = "postgresql://realmkit:secret@10.0.0.6:5432/realmkit"
nats_url = ""
database_url = ""
# false skips fsync in the embedded PostgreSQL: faster, loses data on power loss.
durable = true
# true also serves the embedded NATS's HTTP monitoring endpoint on a loopback port
# (in <data_dir>/nats/ports.json). It asks for no credentials and lists every
# connection and subject: keep it off unless you need it.
nats_monitoring = false

[instances]
# Seconds an empty dungeon, battleground or arena lives on before it stops.
empty_grace = 60.0
# Seconds a character stays bound to the dungeon instance it entered.
dungeon_reset = 3600.0
# Seconds without a heartbeat (sent every second) before a world node is
# declared UNHEALTHY and its spaces are restored elsewhere.
node_timeout = 3.0
# Seconds a player whose gateway died has to resume through another gateway
# (with the resume token of its last new_world) before its character logs out.
resume_grace = 60.0
# The world runs this many times slower than real time (benchmarks of a world
# larger than the machine); 1 is real time.
time_dilation = 1.0

[scaling]
# Who starts and stops world nodes as player load changes:
#   "local"   processes on this machine (logs in <data_dir>/logs),
#   "command" launch_command / retire_command below (Kubernetes: see deploy/),
#   "none"    only the world nodes listed in this file.
launcher = "local"
min_world_nodes = 2
max_world_nodes = 8
# A world node is launched when under this share of the capacity is free...
scale_up_below = 0.25
# ...and an idle one (no players for idle_after seconds) is drained and stopped
# when over this share stays free without it.
scale_down_above = 0.5
idle_after = 120.0
# Seconds a launched node has to report ready before the launch is given up.
launch_timeout = 60.0
# Players a world node started by the local launcher takes.
world_capacity = 2000
# Where world nodes not listed below serve their metrics (0 picks a free port;
# a fixed one where each node has an address of its own, as in Kubernetes).
world_host = "127.0.0.1"
world_metrics_port = 0
# launcher = "command": {name} and {wanted} are substituted in each argument, e.g.
#   launch_command = ["kubectl", "scale", "deployment/realmkit-world", "--replicas={wanted}"]
launch_command = []
retire_command = []

[matchmaking]
# Seconds between two matching rounds of the matchmakers' leader.
tick = 0.25
# Seconds every member of a proposed group has to accept it.
accept_timeout = 20.0
# Caps every activity's duration in seconds (0: each activity's own).
match_time_limit = 0.0
# Rated queues (arenas): the rating difference two sides may have, widened per
# second of waiting, up to window_max.
window_start = 100
window_widening = 10.0
window_max = 1000

[restarts]
# A realm restart (`realmkit realm restart REALM --in 10m`) tells the realm's players
# at each of these marks (seconds before), saves everyone, starts the realm's spaces
# again from their content and seats every player back where they stood.
# daily_at = "HH:MM" (UTC) restarts every realm each day at that time ("": never).
daily_at = ""
warnings = [900, 600, 300, 120, 60, 30, 10]

[social]
# An unread letter goes back to its sender after this many days.
mail_days = 30.0

[login]
# Wrong passwords for one account from one address within a minute before that
# account waits out the minute there (it is not locked anywhere else)...
failures_per_account = 5
# ...and from one address whatever the accounts (password spraying).
failures_per_address = 30
# New accounts one address may register per registration_window seconds (429
# with Retry-After past it), except from the addresses listed: none by default, this
# machine included (`realmkit bots` makes its accounts in PostgreSQL, not here).
registrations_per_address = 5
registration_window = 600.0
registrations_unlimited = []

[cells]
# A continent is tiled by cells, each a space on some world node (`realmkit cells`).
# The orchestrators' leader splits a busy cell (across its longer side, at its
# players' median; the new half on another world node, drawn by free room), merges
# two cold sibling cells, and otherwise moves the border between two sibling cells
# whose load is uneven into the busy one: one change per continent per cooldown.
# false: only `realmkit cells --split/--merge/--move` change them.
balance = true
split_players = 400
split_tick_ms = 35.0
# At most half of split_players, so a border does not flap.
merge_players = 100
check_every = 5.0
cooldown = 30.0

[backup]
# Where the backup node keeps base backups and the WAL it streams ("" is
# <data_dir>/backups): another disk or host in a real deployment.
folder = ""
# Seconds between two base backups; the WAL streams between them as it is written.
base_every = 21600.0
# "REDUNDANCY N" (keep N base backups) or "RECOVERY WINDOW OF N DAYS".
retention = "REDUNDANCY 3"
# Seconds between two restore checks: the latest backup is restored into a
# scratch folder beside the backups, started on a loopback port and checked
# like `realmkit db check` (0: never; `realmkit backup check` runs one now).
check_every = 21600.0
# Seconds a restore check may take before it is stopped and counted failed.
check_timeout = 3600.0

# One [[nodes]] table per process. Roles: login, gateway, world,
# orchestrator, matchmaker, reviver, backup. port = 0 picks a free port
# (metrics_port too: every node serves Prometheus /metrics there).
[[nodes]]
name = "login"
role = "login"
port = 8080

[[nodes]]
name = "gateway-1"
role = "gateway"
port = 8081

[[nodes]]
name = "gateway-2"
role = "gateway"
port = 8082

[[nodes]]
name = "orchestrator-1"
role = "orchestrator"

[[nodes]]
name = "orchestrator-2"
role = "orchestrator"

[[nodes]]
name = "matchmaker-1"
role = "matchmaker"

[[nodes]]
name = "matchmaker-2"
role = "matchmaker"

[[nodes]]
name = "world-1"
role = "world"

[[nodes]]
name = "world-2"
role = "world"

[[nodes]]
name = "backup-1"
role = "backup"
"""

# The documented file above *is* the default: a missing realmkit.toml behaves
# exactly like `realmkit init` having written it.
DEFAULT_SETTINGS = msgspec.toml.decode(DEFAULT_TOML, type=Settings)


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the node file (if any) and apply environment overrides.

    Raises ``ConfigError`` naming the file and field on any invalid value.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get(CONFIG_ENV))
    config_path = path or Path(env.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)
    if config_path.is_file():
        source = str(config_path)
        try:
            settings = msgspec.toml.decode(config_path.read_bytes(), type=Settings)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ConfigError(source, str(exc)) from exc
    elif explicit:
        raise ConfigError(str(config_path), "file not found")
    else:
        settings = DEFAULT_SETTINGS
    return _apply_env(settings, env)


def _apply_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    engines = settings.engines
    if "REALMKIT_NATS_URL" in env:
        engines = msgspec.structs.replace(engines, nats_url=env["REALMKIT_NATS_URL"])
    if "REALMKIT_DATABASE_URL" in env:
        engines = msgspec.structs.replace(engines, database_url=env["REALMKIT_DATABASE_URL"])
    data_dir = env.get("REALMKIT_DATA_DIR") or settings.data_dir
    return msgspec.structs.replace(settings, engines=engines, data_dir=data_dir)
