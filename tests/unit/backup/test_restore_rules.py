"""The restore's pure parts: which backup serves a moment, and why a replay failed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from realmkit.backup.restore import TARGET_NOT_REACHED, choose, replay_failure
from realmkit.errors import NotFound

T = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


def test_the_newest_backup_that_ended_before_the_moment_serves_it() -> None:
    """A later backup, an unfinished one and a failed one are passed over."""
    backups = [
        ("b1", "DONE", T.timestamp() - 600),
        ("b2", "DONE", T.timestamp() - 60),
        ("b3", "FAILED", T.timestamp() - 30),
        ("b4", "DONE", T.timestamp() + 60),
        ("b5", "STARTED", 0.0),
    ]
    assert choose(backups, T) == "b2"
    assert choose(backups, None) == "b4"


def test_a_moment_before_every_backup_names_the_oldest() -> None:
    """NotFound says when the oldest backup ended."""
    with pytest.raises(NotFound, match="2026-12-03T22:01:00"):
        choose([("b1", "DONE", T.timestamp() + 60)], T)


def test_no_finished_backup_says_how_to_get_one() -> None:
    """Before the first backup: what to do, not a backup named 'none'."""
    with pytest.raises(NotFound, match="realmkit backup create"):
        choose([("b1", "STARTED", 0.0)], None)


def test_a_moment_past_the_wal_kept_says_what_to_do() -> None:
    """The replay ending before the moment is told with the way out."""
    log = (
        "2026-12-03 22:42:14.630 UTC [1] LOG:  redo done at 0/6000A60\n"
        f"2026-12-03 22:42:14.630 UTC [1] FATAL:  {TARGET_NOT_REACHED}\n"
        "2026-12-03 22:42:14.631 UTC [2] LOG:  shutting down due to startup process failure\n"
    )
    said = replay_failure(log)
    assert said.startswith(TARGET_NOT_REACHED)
    assert "'latest'" in said


def test_another_replay_failure_is_told_as_postgresql_said_it() -> None:
    """The last FATAL or PANIC line; a log without one points at the log."""
    log = "x FATAL:  first\ny PANIC:  could not locate a valid checkpoint record\n"
    assert replay_failure(log) == "could not locate a valid checkpoint record"
    assert "postgres.log" in replay_failure("")
