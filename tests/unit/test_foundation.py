"""Foundation pieces without I/O: errors, subjects, codec, redaction, migration files."""

from __future__ import annotations

import inspect
from pathlib import Path

import msgspec
import pytest

from realmkit import errors
from realmkit.bus import subjects
from realmkit.engines.embedded import redact
from realmkit.protocol.codec import decode, encode
from realmkit.store.migrate import available


def _error_classes() -> list[type[errors.RealmkitError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.RealmkitError)
    ]


def test_every_error_has_its_own_stable_code() -> None:
    """No two error classes share a code, so clients can tell them apart."""
    codes = [cls.code for cls in _error_classes()]
    assert len(codes) == len(set(codes))


def test_every_error_class_is_drawn_in_the_tree() -> None:
    """The hierarchy in errors.py's docstring lists every class."""
    for cls in _error_classes():
        assert cls.__name__ in (errors.__doc__ or ""), cls.__name__


def test_caller_mistakes_and_peer_faults_are_separate() -> None:
    """Conflicts are usage errors; a bad message is a peer error; neither is the other."""
    assert issubclass(errors.ItemAlreadyOwned, errors.UsageError)
    assert issubclass(errors.BadMessage, errors.PeerError)
    assert not issubclass(errors.BadMessage, errors.UsageError)
    error = errors.StaleEpoch(character_id=9, epoch=4)
    assert error.to_dict() == {
        "code": "STALE_EPOCH",
        "message": error.message,
        "character_id": 9,
        "epoch": 4,
    }


@pytest.mark.parametrize("bad", ["a.b", "*", ">", "", "x y", "é"])
def test_subject_tokens_cannot_smuggle_wildcards(bad: str) -> None:
    """A variable subject part with a dot, wildcard or space is refused."""
    with pytest.raises(errors.UsageError):
        subjects.gateway_frames(bad)


def test_subject_names_follow_the_design() -> None:
    """Subjects are the ones DESIGN.md names."""
    assert subjects.space_inputs(17) == "space.17.in"
    assert subjects.gateway_frames("gateway-1") == "gateway.gateway-1.frames"
    assert subjects.event("node_up").startswith("events.")


class Move(msgspec.Struct, array_like=True):
    entity: int
    x: float
    y: float


def test_codec_round_trip_and_bad_bytes() -> None:
    """Structs survive encode/decode; wrong bytes raise BadMessage naming where."""
    assert decode(encode(Move(1, 2.5, -3.0)), Move) == Move(1, 2.5, -3.0)
    with pytest.raises(errors.BadMessage) as caught:
        decode(encode({"entity": "x"}), Move, "space.1.in")
    assert caught.value.where == "space.1.in"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://s3cret@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        (
            "postgresql://postgres:s3cret@h:5432/realmkit",
            "postgresql://postgres:***@h:5432/realmkit",
        ),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)
def test_redact_hides_secrets(url: str, shown: str) -> None:
    """Passwords and tokens never survive redaction; the host and port do."""
    assert redact(url) == shown


def test_migrations_are_numbered_without_gaps() -> None:
    """Shipped migrations are 1..N in order, each with SQL in it."""
    found = available()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert all(any(k in m.sql.upper() for k in ("CREATE", "ALTER")) for m in found)


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs the README's test command exactly as written."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    blocks = readme.split("```bash\n")[1:]
    commands = [block.split("\n```")[0].strip() for block in blocks]
    assert len(commands) >= 2
    assert commands[1] in (root / ".ci" / "run").read_text().splitlines()


def test_content_and_store_agree_on_map_kinds() -> None:
    """The pack schema's map kinds are the store's (which a service test ties to SQL)."""
    from typing import get_args

    from realmkit.content.schema import MapKind as PackKind
    from realmkit.store.records import MapKind

    assert set(get_args(PackKind)) == {kind.value for kind in MapKind}
