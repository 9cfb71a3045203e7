"""The ``realmkit`` entry point.

``realmkit version`` and ``realmkit init`` are answered here, before the
command-line framework and the rest of realmkit load (they start in a few
hundredths of a second); every other command line goes to
``realmkit.cli.main``, whose ``version`` and ``init`` commands call the same
functions.
"""

from __future__ import annotations

import sys
from pathlib import Path


def version_text() -> str:
    import importlib.metadata

    return importlib.metadata.version("realmkit")


def write_node_file(force: bool) -> tuple[bool, str]:
    """Write the documented default ``realmkit.toml``; (done, what to tell the user)."""
    from realmkit.settings import DEFAULT_CONFIG_FILE, DEFAULT_TOML

    path = Path(DEFAULT_CONFIG_FILE)
    if path.exists() and not force:
        return False, f"{path} exists (use --force to overwrite)"
    path.write_text(DEFAULT_TOML)
    return True, f"wrote {path}"


def main() -> None:
    args = sys.argv[1:]
    if args == ["version"]:
        print(f"realmkit {version_text()}")
        return
    if args in (["init"], ["init", "--force"]):
        done, said = write_node_file(force=len(args) == 2)
        print(said if done else f"error: {said}", file=sys.stdout if done else sys.stderr)
        raise SystemExit(0 if done else 2)
    from realmkit.cli.main import main as full

    full()
