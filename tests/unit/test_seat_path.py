"""Seating a player in a space is written once: the orchestrator's hand-over."""

from __future__ import annotations

import ast
from pathlib import Path

import realmkit

SRC = Path(realmkit.__file__).parent
HANDOVER = SRC / "nodes" / "orchestrator" / "handover.py"
# The steps of a seat: only the hand-over builds these requests (the world node
# answers them, the protocol defines them).
SEAT_STEPS = {"JoinSpace", "HandOff", "TransferStarted", "Repoint", "Replaced"}


def _builders(path: Path) -> set[str]:
    """Names of the seat steps that ``path`` constructs (calls)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in SEAT_STEPS
    }


def test_only_the_handover_builds_the_steps_of_a_seat() -> None:
    """Entering, transfers, re-attaching after a crash and live migration all go
    through ``Handover``: no other module announces, hands off, joins or re-points."""
    elsewhere = {
        str(path.relative_to(SRC)): sorted(built)
        for path in sorted(SRC.rglob("*.py"))
        if path != HANDOVER and (built := _builders(path))
    }
    assert elsewhere == {}
    assert _builders(HANDOVER) == SEAT_STEPS
