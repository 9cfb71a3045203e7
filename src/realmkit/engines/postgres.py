"""The embedded PostgreSQL: pgserver's bundled binaries, run on a loopback port.

``pgserver.get_server`` listens on a unix socket only and stops its server when
the Python process exits; realmkit needs TCP on loopback and a server that
outlives ``realmkit engines up``. So realmkit drives the same binaries itself
with ``initdb`` and ``pg_ctl`` and reuses pgserver's helpers for the one
awkward case: PostgreSQL refuses to run as root, so under root the server runs
as the system user ``pgserver`` (created on first use, as pgserver does).

The superuser password is generated at ``initdb`` time, kept in a private
file beside the cluster, and passed to tools through the environment only.

``bin_dir`` runs another installation's binaries the same way (a system
PostgreSQL, e.g. Debian's ``/usr/lib/postgresql/15/bin``, which ships
extensions that the wheel lacks, such as ``amcheck``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import signal
import subprocess
import tempfile
import warnings
from pathlib import Path

import psutil

from realmkit.errors import EngineStartFailed
from realmkit.procs import LOOPBACK, free_port, is_alive, write_private

DATABASE = "realmkit"
SUPERUSER = "postgres"
ROOT_RUNS_AS = "pgserver"
PG_CTL_TIMEOUT = 30
START_ATTEMPTS = 3


def pg_bin(name: str) -> Path:
    """A binary of the PostgreSQL that the pgserver wheel ships."""
    # Found without importing pgserver: its import probes the user's runtime
    # folder and warns when XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EngineStartFailed("PostgreSQL", "the pgserver package is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name


# Line 8 of PostgreSQL's postmaster.pid once the server accepts connections.
POSTMASTER_READY = "ready"


class EmbeddedPostgres:
    name = "PostgreSQL"

    def __init__(self, root: Path, *, durable: bool = True, bin_dir: Path | None = None) -> None:
        self.root = root
        self.bin_dir = bin_dir
        self.pgdata = root / "data"
        self.log = root / "postgres.log"
        self.password_file = root / "password"
        self.durable = durable
        self.run_as = ROOT_RUNS_AS if os.geteuid() == 0 else None

    def _bin(self, name: str) -> Path:
        return self.bin_dir / name if self.bin_dir else pg_bin(name)

    # --- finding a running server -------------------------------------------

    def _postmaster(self) -> tuple[int, int] | None:
        """(pid, port) from ``postmaster.pid`` when that server is alive and ready."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            status = lines[7].strip()
        except (OSError, IndexError):
            return None
        found = self.running()
        return found if found is not None and status == POSTMASTER_READY else None

    def running(self) -> tuple[int, int] | None:
        """(pid, port) of this data folder's live postmaster, ready or not (a
        restored copy still replaying its WAL, one starting or stopping)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        return (pid, port) if is_alive(pid, "postgres") else None

    def pid(self) -> int | None:
        found = self._postmaster()
        return found[0] if found else None

    def port(self) -> int:
        found = self._postmaster()
        if found is None:
            raise EngineStartFailed("PostgreSQL", "not running", str(self.log))
        return found[1]

    def url(self, database: str = DATABASE) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{SUPERUSER}:{password}@{LOOPBACK}:{self.port()}/{database}"

    def answering(self) -> bool:
        found = self._postmaster()
        if found is None:
            return False
        result = subprocess.run(
            [str(self._bin("pg_isready")), "-h", LOOPBACK, "-p", str(found[1]), "-t", "3"],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    # --- start / stop -------------------------------------------------------

    def start(self, *, create: bool = True) -> None:
        """Start (initdb first when there is no cluster); ``create``: the realmkit
        database too (not on a restored copy still replaying its WAL: read-only)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.run_as:
            self._prepare_for_system_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        for attempt in range(START_ATTEMPTS):
            # The previous port when free; after a lost port race, a fresh one.
            self._write_settings(fresh_port=attempt > 0)
            try:
                self._run(
                    "pg_ctl",
                    ["-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", str(PG_CTL_TIMEOUT)],
                    "start",
                )
                break
            except EngineStartFailed:
                if attempt == START_ATTEMPTS - 1:
                    raise
        if create:
            self._createdb()

    def stop(self) -> None:
        if self.pid() is None:
            return
        self._run(
            "pg_ctl",
            ["-D", str(self.pgdata), "-m", "fast", "-w", "-t", str(PG_CTL_TIMEOUT)],
            "stop",
        )

    def halt(self, timeout: float = PG_CTL_TIMEOUT) -> None:
        """Stop the postmaster by its pid, whatever its state: a fast shutdown
        (SIGINT), SIGKILL after ``timeout`` seconds. For a scratch copy, where
        ``pg_ctl`` may not know the state (still replaying, half started)."""
        found = self.running()
        if found is None:
            return
        try:
            postmaster = psutil.Process(found[0])
            postmaster.send_signal(signal.SIGINT)
            try:
                postmaster.wait(timeout)
            except psutil.TimeoutExpired:
                postmaster.kill()
                postmaster.wait(timeout)
        except psutil.NoSuchProcess:
            pass

    # --- steps --------------------------------------------------------------

    def _prepare_for_system_user(self) -> None:
        with warnings.catch_warnings():  # see pg_bin
            warnings.simplefilter("ignore")
            from pgserver import utils  # root only: user creation and folder permissions

        utils.ensure_user_exists(ROOT_RUNS_AS)
        utils.ensure_prefix_permissions(self.root)
        if self.bin_dir is None:  # a system installation is readable by every user already
            bin_dir = pg_bin("postgres").parent
            utils.ensure_prefix_permissions(bin_dir)
            read_exec = 0o055
            utils.ensure_folder_permissions(bin_dir, read_exec)
            utils.ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
        entry = pwd.getpwnam(ROOT_RUNS_AS)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)
        if self.log.exists():
            os.chown(self.log, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        if not self.password_file.exists():
            write_private(self.password_file, secrets.token_urlsafe(24))
        # initdb reads the password from a file the server's user can read;
        # it lives for the duration of initdb only.
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as pw:
            pw.write(self.password_file.read_text().strip())
        try:
            self._chown(Path(pw.name))
            self._run(
                "initdb",
                [
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pw.name}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "--encoding=UTF8",
                    "--locale=C",
                    # A page damaged on disk fails its read instead of returning garbage
                    # (``realmkit db check``); data folders made before keep theirs.
                    "--data-checksums",
                ],
            )
        finally:
            Path(pw.name).unlink(missing_ok=True)

    def _write_settings(self, *, fresh_port: bool) -> None:
        """Loopback only, no unix socket; a free port, the previous one if still free."""
        conf = self.pgdata / "realmkit.conf"
        previous = 0
        with contextlib.suppress(OSError, ValueError):
            if fresh_port:
                raise ValueError
            for line in conf.read_text().splitlines():
                if line.startswith("port"):
                    previous = int(line.split("=")[1])
        lines = [
            f"listen_addresses = '{LOOPBACK}'",
            f"port = {free_port(previous)}",
            "unix_socket_directories = ''",
            "max_connections = 300",
            "shared_buffers = '128MB'",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        conf.write_text("\n".join(lines) + "\n")
        self._chown(conf)
        main_conf = self.pgdata / "postgresql.conf"
        include = "include_if_exists = 'realmkit.conf'"
        if include not in main_conf.read_text():
            with main_conf.open("a") as f:
                f.write(f"\n{include}\n")

    def _createdb(self) -> None:
        env = {**os.environ, "PGPASSWORD": self.password_file.read_text().strip()}
        port = str(self.port())
        result = subprocess.run(
            [str(self._bin("createdb")), "-h", LOOPBACK, "-p", port, "-U", SUPERUSER, DATABASE],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise EngineStartFailed(
                "PostgreSQL", f"createdb: {result.stderr.strip()}", str(self.log)
            )

    def _chown(self, path: Path) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def own_data(self) -> None:
        """Every file of the data folder to the server's user (a restore writes them
        as whoever ran it)."""
        if not self.run_as:
            return
        self._chown(self.pgdata)
        for folder, dirs, files in os.walk(self.pgdata):
            for name in [*dirs, *files]:
                self._chown(Path(folder) / name)

    def _run(self, tool: str, args: list[str], *action: str) -> None:
        # Files, not pipes: the postmaster that pg_ctl leaves running would
        # inherit a pipe and keep this call waiting for EOF forever.
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(
                [str(self._bin(tool)), *args, *action],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                user=self.run_as,
                cwd=self.root,
                check=False,
            )
            out.seek(0)
            output = out.read()
        if result.returncode != 0:
            detail = output.strip().splitlines()
            raise EngineStartFailed(
                "PostgreSQL",
                f"{tool} {' '.join(action)}: {detail[-1] if detail else result.returncode}",
                str(self.log),
            )
