"""Backups of the cluster's PostgreSQL with Barman: the adapter.

Barman (a PostgreSQL backup manager, driven through its command line with a
private configuration file) takes base backups with ``pg_basebackup`` and
streams the WAL as it is written with ``pg_receivewal`` over PostgreSQL's
replication protocol, through a replication slot, so a lost database loses at
most the last moments of writes. Both binaries come from the pgserver wheel,
the same PostgreSQL the cluster runs (``path_prefix``). Everything Barman keeps
(backups, WAL, its locks and log) lives in the backup folder, outside the
database's data folder; the password reaches it through a private passfile,
never a command line.

``barman cron`` is run every few seconds by the backup node: it (re)starts the
WAL streamer when it is not running (it exits when PostgreSQL restarts), files
the finished WAL and applies the retention policy.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec

from realmkit.engines.postgres import pg_bin
from realmkit.errors import BackupFailed, ConfigError
from realmkit.procs import end_group, write_private

SERVER = "realmkit"  # the one server of the configuration
SLOT = "realmkit_barman"  # the replication slot the WAL streams through
COMMAND_TIMEOUT = 3600.0  # seconds a Barman command may take (a base backup of a big realm)


class BackupInfo(msgspec.Struct, frozen=True):
    """One base backup, as ``realmkit backup list`` shows it."""

    backup_id: str
    status: str  # DONE, FAILED, STARTED...
    end_time: float  # unix seconds (0 while running)
    size_bytes: int  # with the WAL it needs
    obsolete: bool  # retention will remove it


@dataclass(frozen=True)
class Barman:
    """Barman for one database, its files in ``folder``."""

    folder: Path
    database_url: str
    retention: str = "REDUNDANCY 3"

    @property
    def config(self) -> Path:
        return self.folder / "barman.conf"

    def write_config(self) -> None:
        """The configuration and the passfile (both private), from the database URL."""
        url = urlsplit(self.database_url)
        if url.scheme not in ("postgres", "postgresql") or not url.hostname:
            raise ConfigError("database_url", "a postgresql://user:password@host:port/db URL")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        user = unquote(url.username or "postgres")
        database = url.path.lstrip("/") or "postgres"
        port = url.port or 5432
        passfile = self.folder / "pgpass"
        password = unquote(url.password or "")
        write_private(passfile, f"{url.hostname}:{port}:*:{user}:{password}\n")
        conninfo = f"host={url.hostname} port={port} user={user} passfile={passfile}"
        home = self.folder / "barman"
        home.mkdir(mode=0o700, exist_ok=True)
        write_private(
            self.config,
            "\n".join(
                [
                    "[barman]",
                    f"barman_user = {getpass.getuser()}",
                    f"barman_home = {home}",
                    f"barman_lock_directory = {home}",
                    f"log_file = {self.folder / 'barman.log'}",
                    "log_level = WARNING",
                    "",
                    f"[{SERVER}]",
                    "description = the realmkit cluster's PostgreSQL",
                    f"conninfo = {conninfo} dbname={database}",
                    f"streaming_conninfo = {conninfo} dbname={database}",
                    "backup_method = postgres",
                    "streaming_archiver = on",
                    "archiver = off",
                    f"slot_name = {SLOT}",
                    "create_slot = auto",
                    f"path_prefix = {pg_bin('pg_basebackup').parent}",
                    f"retention_policy = {self.retention}",
                    "minimum_redundancy = 1",
                    "",
                ]
            ),
        )

    async def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """``barman -c CONFIG ARGS``; its output, or ``BackupFailed`` with what it said."""
        barman = Path(sys.executable).parent / "barman"
        what = next((a for a in args if not a.startswith("-") and a != "json"), "barman")
        proc = await asyncio.create_subprocess_exec(
            str(barman),
            "-c",
            str(self.config),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C of the terminal is the node's to handle
        )
        try:
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate()
        except TimeoutError:
            await end_group(proc)
            raise BackupFailed(what, f"no answer within {timeout:.0f} s") from None
        except asyncio.CancelledError:
            # The caller stops (a node stopping, a restore check's deadline): its command
            # stops with it, rsync children included. Cut loose, a cron would start a
            # WAL streamer after the node stopped it, and a base backup would write on
            # after `realmkit down` (or beside a restore).
            await asyncio.shield(end_group(proc))
            raise
        if proc.returncode != 0:
            said = [
                line
                for line in (err or out).decode(errors="replace").splitlines()
                if line.strip() and "See log file" not in line
            ]
            raise BackupFailed(what, said[-1].strip() if said else self._logged_error())
        return out.decode(errors="replace")

    def _logged_error(self) -> str:
        """The last error Barman wrote in its log (it says only "see the log")."""
        try:
            lines = (self.folder / "barman.log").read_text(errors="replace").splitlines()
        except OSError:
            return "failed (no log)"
        errors = [line for line in lines if " ERROR: " in line]
        return errors[-1].split(" ERROR: ", 1)[1] if errors else "failed (see barman.log)"

    async def recover(self, backup_id: str, destination: Path, *options: str) -> None:
        """Copy a base backup to ``destination`` (a data folder) with the WAL it needs."""
        await self.run("-q", "recover", SERVER, backup_id, str(destination), *options)

    async def cron(self) -> None:
        await self.run("-q", "cron", timeout=60.0)

    async def backup(self) -> str:
        """A base backup now (a fast checkpoint first); its id. Barman refuses one
        until the streamed WAL reaches its archive: a WAL switch, waited for, first."""
        await self.run("-q", "switch-wal", "--force", "--archive", SERVER, timeout=120.0)
        await self.run("-q", "backup", SERVER, "--wait", "--immediate-checkpoint")
        done = [b for b in await self.list() if b.status == "DONE"]
        if not done:
            raise BackupFailed("backup", "barman reports no finished backup")
        return done[0].backup_id

    async def verify(self, backup_id: str = "latest") -> None:
        """``pg_verifybackup`` on the backup's manifest: every file as it was taken."""
        await self.run("-q", "verify-backup", SERVER, backup_id)

    async def list(self) -> list[BackupInfo]:
        """The base backups, newest first."""
        raw = msgspec.json.decode(await self.run("-f", "json", "list-backups", SERVER))
        found: list[dict[str, Any]] = raw.get(SERVER, []) if isinstance(raw, dict) else []
        return [
            BackupInfo(
                backup_id=str(b["backup_id"]),
                status=str(b.get("status", "")),
                end_time=float(b.get("end_time_timestamp") or 0),
                size_bytes=int(b.get("size_bytes") or 0),
                obsolete=str(b.get("retention_status", "")).upper() == "OBSOLETE",
            )
            for b in found
        ]
