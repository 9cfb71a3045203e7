"""What every ``realmkit`` subcommand shares: the consoles, ``--json``, error reporting.

Exit codes: 0 success, 1 the work failed (an engine down, a database error),
2 the command was wrong (bad option, bad realmkit.toml).

Every command pays for this module's imports, so it imports nothing heavy
(asyncpg, aiohttp, nats, numpy): ``--help``, ``version`` and ``init`` start
in a tenth of a second. What talks to an engine is imported where it is used.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
import typer
from rich.console import Console

from realmkit.errors import RealmkitError, UsageError
from realmkit.settings import Settings, load_settings

if TYPE_CHECKING:
    from realmkit.store.postgres import Database

T = TypeVar("T")

# Written to a file or a pipe, tables keep their columns whole (rich would cut
# them to 80 characters); a terminal's own width applies otherwise.
PIPED_WIDTH = 240
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH)
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


class Context(msgspec.Struct):
    config: Path | None
    data_dir: Path | None

    def settings(self) -> Settings:
        settings = load_settings(self.config)
        if self.data_dir is not None:
            settings = msgspec.structs.replace(settings, data_dir=str(self.data_dir))
        return settings


@contextlib.contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Print a realmkit error cleanly (no traceback) and exit 1, or 2 for usage errors."""
    try:
        yield
    except RealmkitError as exc:
        if as_json:
            out.print_json(data={"ok": False, "error": msgspec.to_builtins(exc.to_dict())})
        else:
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        raise typer.Exit(2 if isinstance(exc, UsageError) else 1) from None


def run(ctx: typer.Context, as_json: bool, work: Callable[[Settings], T]) -> T:
    with reported(as_json):
        return work(ctx.obj.settings())


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()

    import asyncio

    return asyncio.run(main())


def print_json(data: Any) -> None:
    out.print_json(data=msgspec.to_builtins(data))


async def with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    from realmkit.engines import embedded as engines
    from realmkit.store.postgres import Database

    db = await Database.connect(engines.endpoints(settings, nats=False).database_url, max_size=2)
    try:
        return await work(db)
    finally:
        await db.close()


def on_db(
    ctx: typer.Context, as_json: bool, work: Callable[[Settings, Database], Awaitable[T]]
) -> T:
    """Run ``work`` with the settings and a database connection, errors reported."""
    return run(ctx, as_json, lambda s: run_async(lambda: with_db(s, lambda db: work(s, db))))
