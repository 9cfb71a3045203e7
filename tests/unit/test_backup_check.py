"""The restore check without I/O: when the backup node runs one (``check_due``: only
with checks on and a finished backup to restore, at once when none ran, then every
check_every) and the URL of the scratch copy."""

from __future__ import annotations

from realmkit.backup.barman import BackupInfo
from realmkit.backup.check import scratch_url
from realmkit.nodes.backup.node import check_due

DONE = [BackupInfo("20261203T210000", "DONE", 1000.0, 1, obsolete=False)]
RUNNING = [BackupInfo("20261203T220000", "STARTED", 0.0, 0, obsolete=False)]


def test_a_check_is_due_at_once_then_every_check_every() -> None:
    """The first check runs as soon as a backup is done; the next check_every later."""
    assert check_due(3600.0, None, DONE, now=2000.0)
    assert not check_due(3600.0, 2000.0, DONE, now=5599.0)
    assert check_due(3600.0, 2000.0, DONE, now=5600.0)


def test_no_check_without_a_finished_backup_or_with_checks_off() -> None:
    """Nothing to restore while the first backup runs; check_every = 0 turns checks off."""
    assert not check_due(3600.0, None, [], now=2000.0)
    assert not check_due(3600.0, None, RUNNING, now=2000.0)
    assert not check_due(0.0, None, DONE, now=2000.0)


def test_the_scratch_copy_is_reached_on_loopback_with_the_backups_credentials() -> None:
    """Same user, password (quoted as given) and database; loopback, the copy's port,
    no parameters (a loopback copy has no TLS)."""
    url = "postgresql://backup:p%40ss%2Fw@db.example.com:5432/realmkit?sslmode=require"
    assert scratch_url(url, 54321) == "postgresql://backup:p%40ss%2Fw@127.0.0.1:54321/realmkit"
