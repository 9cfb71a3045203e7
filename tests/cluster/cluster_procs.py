"""Finding a cluster's node processes (to kill one, as a crash would)."""

from __future__ import annotations

import psutil


def node_pid(up_pid: int, name: str) -> int:
    """The pid of the running ``realmkit node NAME`` child of ``realmkit up`` (``up_pid``)."""
    try:
        children = psutil.Process(up_pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if cmdline[-2:] == ["node", name]:
            return child.pid
    raise LookupError(f"no running node {name}")
