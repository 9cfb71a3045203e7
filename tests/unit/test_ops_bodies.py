"""The operations API's bodies and the login node's memory of world loads, without I/O."""

from __future__ import annotations

import typing

import msgspec
import pytest

from realmkit.nodes.login.ops import PAGE_FILES, WorldReports, _page_files
from realmkit.protocol.cluster import WorldLoad
from realmkit.protocol.ops import (
    AnnounceAction,
    DrainAction,
    PatchActivateAction,
    RealmStatusAction,
    RealmStatusName,
)
from realmkit.store.values import RealmStatus


def test_the_status_names_are_the_realm_statuses() -> None:
    """The body's status literal and the schema's enum name the same values."""
    assert set(typing.get_args(RealmStatusName)) == {s.value for s in RealmStatus}


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (DrainAction, b'{"node": "World-1"}'),
        (DrainAction, b'{"node": "world-1", "force": true}'),
        (RealmStatusAction, b'{"realm": "Azure", "status": "open"}'),
        (RealmStatusAction, b'{"realm": " Azure", "status": "online"}'),
        (AnnounceAction, b'{"realm": "Azure", "text": ""}'),
        (AnnounceAction, b'{"realm": "Azure", "text": "' + b"x" * 501 + b'"}'),
        (PatchActivateAction, b'{"realm": "Azure"}'),
    ],
)
def test_bad_bodies_do_not_decode(kind: type[msgspec.Struct], raw: bytes) -> None:
    """Every field is checked at the door: names, enums, lengths, unknown fields."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(raw, type=kind)


def test_good_bodies_decode() -> None:
    """What the page sends decodes."""
    assert msgspec.json.decode(b'{"node": "world-1"}', type=DrainAction).node == "world-1"
    body = msgspec.json.decode(b'{"patch": "wolves", "pool": "europe"}', type=PatchActivateAction)
    assert (body.realm, body.pool) == (None, "europe")


def test_world_reports_forget_silent_nodes() -> None:
    """The last report of each world node is kept while fresh, then forgotten."""
    reports = WorldReports(fresh_seconds=10.0)
    reports.report(WorldLoad("world-1", 1, 5, 100, 3.0, 0), now=100.0)
    reports.report(WorldLoad("world-2", 0, 0, 100, 1.0, 0), now=105.0)
    reports.report(WorldLoad("world-1", 1, 6, 100, 4.0, 0), now=106.0)
    assert reports.fresh(111.0)["world-1"].players == 6
    assert set(reports.fresh(115.5)) == {"world-1"}


def test_the_page_ships_in_the_package() -> None:
    """index.html, ops.js and ops.css are package data, read once at start."""
    files = _page_files()
    assert set(files) == set(PAGE_FILES)
    assert b'src="/ops/ops.js"' in files["index.html"]
