"""The database's integrity check and repair (``realmkit db check [--repair]``).

Each logical check is one SQL query returning the offending rows as
``(key, row)``: ``key`` names the row, ``row`` is the row as JSON. A finding's
``remedy`` says what ``--repair`` does with it, in the seeds' order:

1. ``correct``: the row is put right in place (an item whose owner is gone goes
   to ``ops.recovery_mailbox``, a character assigned to a gone instance goes
   offline so its next login places it at home, an assignment epoch behind the
   saves it fenced catches up, a sequence behind its table's
   largest id moves past it; an item whose mail is gone goes to
   ``ops.recovery_mailbox`` too, a negative purse or mail is emptied, an open
   trade whose side left the world long ago is cancelled, moving nothing);
2. ``quarantine``: the row cannot be put right, so it moves to
   ``ops.quarantine`` as JSON (never deleted outright);
3. ``restore``: beyond repair here (a table that cannot be read): restore
   from a backup.

Every repair runs in its own transaction with its row in ``ops.repairs``
(before and after); a ``REINDEX INDEX CONCURRENTLY`` cannot run in one, so
its row is written just after it.

The physical check reads every table of the realmkit schemas in full, TOAST
included: with data checksums a damaged page fails the read. Then, when the
server has the ``amcheck`` extension (created in ``ops`` on first use, which
takes a superuser), PostgreSQL checks its own structures: ``verify_heapam``
on every table (a damaged heap calls for a restore) and ``bt_index_check``
with ``heapallindexed`` on every valid btree index (a damaged index, or one
that misses rows of its table, is rebuilt by ``REINDEX``). The embedded
PostgreSQL (the pgserver wheel) has no ``amcheck``: there ``Report.physical``
says the check was read-only and why, which is not a finding.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from realmkit.errors import StoreError
from realmkit.store.mail import MAILBOX_SIZE
from realmkit.store.postgres import ConnectionLike, Database

SCHEMAS = ("auth", "cluster", "characters", "matchmaking", "social", "ops")
AMCHECK = "amcheck"  # Report.physical when PostgreSQL's own check ran
# How many of verify_heapam's messages a finding keeps (a torn page gives hundreds).
HEAP_MESSAGES = 20


class Remedy(enum.StrEnum):
    CORRECT = "correct"
    QUARANTINE = "quarantine"
    RESTORE = "restore"


class Finding(msgspec.Struct, frozen=True):
    check: str
    key: str
    remedy: Remedy
    detail: dict[str, Any]


class Report(msgspec.Struct, frozen=True):
    """What a check found, and how deep it looked: ``physical`` is ``"amcheck"``,
    or ``"read-only: <why PostgreSQL's own check was skipped>"``."""

    findings: list[Finding]
    physical: str


class Repair(msgspec.Struct, frozen=True):
    check: str
    key: str
    action: str  # corrected | quarantined | restore from a backup
    after: dict[str, Any] | None


class Check(msgspec.Struct, frozen=True):
    """One invariant: ``query`` returns its offending rows as ``(key, row)``.

    ``repair`` is the SQL that corrects one of them (``$1`` the key as text) and
    returns the row after as ``jsonb``; for ``quarantine`` checks,
    ``table``/``key_column`` name the row to move out.
    """

    name: str
    description: str
    remedy: Remedy
    query: str
    repair: str = ""
    table: str = ""
    key_column: str = ""


# A side of an open trade that left the world (offline, moved: another epoch)
# this long ago: its gateway would have cancelled the trade, so it died with it.
_TRADE_SIDE_GONE = (
    "EXISTS (SELECT 1 FROM (VALUES (t.a_id, t.a_epoch), (t.b_id, t.b_epoch)) "
    "AS s(character_id, epoch) LEFT JOIN characters.player_assignments a "
    "USING (character_id) WHERE a.character_id IS NULL OR ((a.state <> 'in_world' "
    "OR a.epoch <> s.epoch) AND a.updated_at < now() - interval '5 minutes'))"
)

CHECKS: tuple[Check, ...] = (
    Check(
        "item_owner_missing",
        "an item whose owner character does not exist",
        Remedy.CORRECT,
        "SELECT i.item_id::text, to_jsonb(i) FROM characters.items i "
        "WHERE i.owner_character_id IS NOT NULL AND NOT EXISTS (SELECT 1 "
        "FROM characters.characters c WHERE c.character_id = i.owner_character_id) "
        "ORDER BY i.item_id",
        "WITH moved AS (DELETE FROM characters.items i WHERE item_id = $1::text::bigint "
        "AND i.owner_character_id IS NOT NULL AND NOT EXISTS (SELECT 1 "
        "FROM characters.characters c "
        "WHERE c.character_id = i.owner_character_id) "
        "RETURNING i.item_id, i.owner_character_id, to_jsonb(i) AS item) "
        "INSERT INTO ops.recovery_mailbox (item_id, former_owner_id, item) "
        "SELECT item_id, owner_character_id, item FROM moved "
        "RETURNING jsonb_build_object('recovery_mailbox', item_id)",
    ),
    Check(
        "item_mail_missing",
        "an item attached to a mail that does not exist",
        Remedy.CORRECT,
        "SELECT i.item_id::text, to_jsonb(i) FROM characters.items i "
        "WHERE i.mail_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM social.mail m "
        "WHERE m.mail_id = i.mail_id) ORDER BY i.item_id",
        "WITH moved AS (DELETE FROM characters.items i WHERE item_id = $1::text::bigint "
        "AND i.mail_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM social.mail m "
        "WHERE m.mail_id = i.mail_id) RETURNING i.item_id, i.mail_id, to_jsonb(i) AS item) "
        "INSERT INTO ops.recovery_mailbox (item_id, former_mail_id, item) "
        "SELECT item_id, mail_id, item FROM moved "
        "RETURNING jsonb_build_object('recovery_mailbox', item_id)",
    ),
    Check(
        "item_owner_count",
        "an item owned by both a character and a mail, or by neither",
        Remedy.QUARANTINE,
        # Which owner is right cannot be told from the row: an operator decides.
        "SELECT i.item_id::text, to_jsonb(i) FROM characters.items i "
        "WHERE (i.owner_character_id IS NULL) = (i.mail_id IS NULL) ORDER BY i.item_id",
        table="characters.items",
        key_column="item_id",
    ),
    Check(
        "item_stack_not_positive",
        "an item with a stack count below 1",
        Remedy.QUARANTINE,
        "SELECT i.item_id::text, to_jsonb(i) FROM characters.items i "
        "WHERE i.stack_count < 1 ORDER BY i.item_id",
        table="characters.items",
        key_column="item_id",
    ),
    Check(
        "assignment_in_gone_instance",
        "a character assigned to an instance that is gone or missing",
        Remedy.CORRECT,
        "SELECT a.character_id::text, to_jsonb(a) FROM characters.player_assignments a "
        "LEFT JOIN characters.instances i USING (instance_id) "
        "WHERE a.instance_id IS NOT NULL AND (i.instance_id IS NULL OR i.state = 'gone') "
        "ORDER BY a.character_id",
        # Offline with a new epoch: no save of the old placement is accepted, and the
        # next login places the character at home.
        "UPDATE characters.player_assignments a SET state = 'offline', instance_id = NULL, "
        "epoch = epoch + 1, resume_hash = NULL, updated_at = now() "
        "WHERE character_id = $1::text::bigint AND a.instance_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM characters.instances i "
        "WHERE i.instance_id = a.instance_id AND i.state <> 'gone') RETURNING to_jsonb(a)",
    ),
    Check(
        "assignment_epoch_behind_save",
        "a character's assignment epoch behind the epoch of its last save",
        Remedy.CORRECT,
        "SELECT a.character_id::text, to_jsonb(a) || jsonb_build_object('save_epoch', "
        "c.save_epoch) FROM characters.player_assignments a JOIN characters.characters c "
        "USING (character_id) WHERE a.epoch < c.save_epoch ORDER BY a.character_id",
        # Placements grow the epoch from here: behind the saves, every save of the
        # next placement would be refused as stale.
        "UPDATE characters.player_assignments a SET epoch = GREATEST(a.epoch, c.save_epoch), "
        "updated_at = now() FROM characters.characters c "
        "WHERE a.character_id = $1::text::bigint AND c.character_id = a.character_id "
        "AND a.epoch < c.save_epoch RETURNING to_jsonb(a)",
    ),
    Check(
        "ticket_match_state",
        "a matchmaking ticket whose state does not fit its match's",
        Remedy.QUARANTINE,
        "SELECT t.ticket_id::text, to_jsonb(t) || jsonb_build_object('match_state', m.state) "
        "FROM matchmaking.tickets t LEFT JOIN matchmaking.matches m USING (match_id) "
        "WHERE (t.match_id IS NOT NULL AND m.match_id IS NULL) "
        "OR (t.state = 'proposed' AND m.state IS DISTINCT FROM 'proposed') "
        "OR (t.state = 'accepted' AND m.state IS DISTINCT FROM 'proposed' "
        "AND m.state IS DISTINCT FROM 'accepted') "
        "OR (t.state = 'in_match' AND m.state IS DISTINCT FROM 'accepted' "
        "AND m.state IS DISTINCT FROM 'running') "
        "OR (t.state = 'queued' AND m.state IN ('proposed', 'accepted', 'running')) "
        "ORDER BY t.ticket_id",
        table="matchmaking.tickets",
        key_column="ticket_id",
    ),
    Check(
        "match_running_in_gone_instance",
        "a running match whose instance is gone or missing",
        Remedy.CORRECT,
        "SELECT m.match_id::text, to_jsonb(m) FROM matchmaking.matches m "
        "LEFT JOIN characters.instances i USING (instance_id) "
        "WHERE m.state = 'running' AND (i.instance_id IS NULL OR i.state = 'gone') "
        "ORDER BY m.match_id",
        # Its players were sent home with the instance: the match ends in a draw.
        "UPDATE matchmaking.matches m SET state = 'done', winner = NULL, updated_at = now() "
        "WHERE match_id = $1::text::bigint RETURNING to_jsonb(m)",
    ),
    Check(
        "character_money_negative",
        "a character with negative money",
        Remedy.CORRECT,
        "SELECT c.character_id::text, jsonb_build_object('character_id', c.character_id, "
        "'money', c.money) FROM characters.characters c WHERE c.money < 0 "
        "ORDER BY c.character_id",
        # Nothing says what it was before the fault: the purse is emptied, logged.
        "UPDATE characters.characters c SET money = 0 WHERE character_id = $1::text::bigint "
        "AND money < 0 RETURNING jsonb_build_object('character_id', c.character_id, "
        "'money', c.money)",
    ),
    Check(
        "mail_money_negative",
        "a mail holding negative money",
        Remedy.CORRECT,
        "SELECT m.mail_id::text, to_jsonb(m) FROM social.mail m WHERE m.money < 0 "
        "ORDER BY m.mail_id",
        "UPDATE social.mail m SET money = 0 WHERE mail_id = $1::text::bigint AND money < 0 "
        "RETURNING to_jsonb(m)",
    ),
    Check(
        "trade_open_while_away",
        "an open trade one of whose characters left the world minutes ago",
        Remedy.CORRECT,
        "SELECT t.trade_id::text, to_jsonb(t) FROM social.trades t "  # noqa: S608 (constants)
        f"WHERE t.state = 'open' AND {_TRADE_SIDE_GONE} ORDER BY t.trade_id",
        # Cancelled moves nothing: every item and coin stays with its owner.
        "UPDATE social.trades t SET state = 'cancelled', reason = 'db check: a side left', "  # noqa: S608 (constants)
        "updated_at = now() WHERE trade_id = $1::text::bigint AND state = 'open' "
        f"AND {_TRADE_SIDE_GONE} RETURNING to_jsonb(t)",
    ),
    Check(
        "mailbox_over_full",
        f"an empty mail beyond the newest {MAILBOX_SIZE} of its mailbox",
        Remedy.QUARANTINE,
        # Only empty ones: a mail holding items or money is never moved out with them.
        "SELECT m.mail_id::text, to_jsonb(m) - 'n' FROM (SELECT m.*, row_number() OVER "  # noqa: S608 (constants)
        "(PARTITION BY m.recipient_id ORDER BY m.sent_at DESC, m.mail_id DESC) AS n "
        "FROM social.mail m) m WHERE m.n > "
        f"{MAILBOX_SIZE} AND m.money = 0 AND NOT EXISTS (SELECT 1 FROM characters.items i "
        "WHERE i.mail_id = m.mail_id) ORDER BY m.mail_id",
        table="social.mail",
        key_column="mail_id",
    ),
)


# Every identity column, and the item id blocks (items take ids from a block
# of 1024 handed out by characters.item_id_blocks): the next value a sequence
# hands out must be above every id already stored.
_SEQUENCES = (
    "SELECT n.nspname || '.' || c.relname, a.attname, "
    "pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE a.attidentity <> '' AND n.nspname = ANY($1::text[]) AND c.relkind = 'r' "
    "UNION ALL SELECT 'characters.items', 'item_id', 'characters.item_id_blocks' "
    "ORDER BY 1"
)
_TABLES = (
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY($1::text[]) ORDER BY 1"
)
_AMCHECK_SCHEMA = (
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'amcheck'"
)
# (oid, name) of the heaps, (oid, name, table) of the btree indexes amcheck can
# check: valid ones (a REINDEX CONCURRENTLY that failed leaves an invalid one behind).
_HEAPS = (
    "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' "
    "AND n.nspname = ANY($1::text[]) ORDER BY 2"
)
_INDEXES = (
    "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
    "quote_ident(n.nspname) || '.' || quote_ident(t.relname) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam "
    "WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready "
    "AND c.relpersistence <> 't' AND n.nspname = ANY($1::text[]) ORDER BY 2"
)
_NO_INDEX_SCANS = (
    "SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; "
    "SET LOCAL enable_bitmapscan = off"
)
# The index a finding names, quoted by the server from the catalog: the one name
# REINDEX takes that is not a parameter.
_INDEX_NAME = (
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = to_regclass($1) AND c.relkind = 'i' AND n.nspname = ANY($2::text[])"
)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _said(exc: Exception) -> str:
    """The server's message alone (its DETAIL and HINT lines follow it)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _row(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else {"value": loaded}


async def find(db: Database, progress: Progress = _quiet) -> list[Finding]:
    """Every finding of every check: physical first, then the logical ones."""
    return (await check(db, progress)).findings


async def check(db: Database, progress: Progress = _quiet) -> Report:
    """``find``'s findings, with how deep the physical check could look."""
    findings = await _physical(db, progress)
    physical, found = await _amcheck(db, {f.key for f in findings}, progress)
    findings += found
    unreadable = {f.key for f in findings if f.remedy is Remedy.RESTORE}
    damaged_index = any(f.check == "index_corrupt" for f in findings)
    async with db.transaction() as conn:
        if damaged_index:
            # Its answers cannot be trusted (max(id) of a sequence check reads one):
            # the rest of the check reads the tables themselves.
            await conn.execute(_NO_INDEX_SCANS)
        for invariant in CHECKS:
            progress(invariant.name)
            try:
                async with conn.transaction():  # a failed query leaves the rest usable
                    rows = await conn.fetch(invariant.query)
            except Exception as exc:
                # A table of it cannot be read: already a restore finding.
                if unreadable:
                    continue
                raise StoreError(f"{invariant.name}: {exc}") from exc
            findings += [
                Finding(invariant.name, key, invariant.remedy, _row(row)) for key, row in rows
            ]
        progress("sequences")
        findings += await _sequences(conn, unreadable)
    return Report(findings, physical)


async def _physical(db: Database, progress: Progress) -> list[Finding]:
    """Read every table in full; one that fails is a restore finding."""
    findings: list[Finding] = []
    async with db.connection() as conn:
        tables = [r[0] for r in await conn.fetch(_TABLES, list(SCHEMAS))]
        for table in tables:
            progress(f"reading {table}")
            try:
                # Each row cast to text: every column read, detoasted too.
                await conn.fetchval(f"SELECT sum(length(t::text)) FROM {table} t")  # noqa: S608
            except Exception as exc:  # a damaged page, a missing file: all mean restore
                findings.append(
                    Finding("table_unreadable", table, Remedy.RESTORE, {"error": str(exc)})
                )
    return findings


async def _amcheck(
    db: Database, unreadable: set[str], progress: Progress
) -> tuple[str, list[Finding]]:
    """PostgreSQL's own check of every heap and btree index (``physical``, findings),
    or why it was skipped; tables already unreadable are not checked again."""
    async with db.connection() as conn:
        schema = await conn.fetchval(_AMCHECK_SCHEMA)
        if schema is None:
            if not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck')"
            ):
                return "read-only: the amcheck extension is not installed on this server", []
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA ops")
            except asyncpg.InsufficientPrivilegeError as exc:
                return (
                    f"read-only: creating the amcheck extension was refused ({_said(exc)}); "
                    "a superuser can run: CREATE EXTENSION amcheck WITH SCHEMA ops",
                    [],
                )
            except asyncpg.PostgresError as exc:  # a read-only standby, a racing check
                return f"read-only: the amcheck extension could not be created ({_said(exc)})", []
            schema = "ops"
        # The extension's schema comes from the catalog; quoted, it is the only name
        # put into these queries, and every relation is passed as a parameter.
        where = await conn.fetchval("SELECT quote_ident($1)", schema)
        try:
            findings = await _verify_heaps(conn, where, unreadable, progress)
            findings += await _verify_indexes(conn, where, unreadable, progress)
        except asyncpg.InsufficientPrivilegeError as exc:
            return (
                f"read-only: running amcheck's functions was refused ({_said(exc)}); "
                "a superuser can GRANT EXECUTE on them",
                [],
            )
    return AMCHECK, findings


async def _verify_heaps(
    conn: ConnectionLike, schema: str, unreadable: set[str], progress: Progress
) -> list[Finding]:
    findings = []
    for oid, table in await conn.fetch(_HEAPS, list(SCHEMAS)):
        if table in unreadable:
            continue
        progress(f"amcheck heap {table}")
        try:
            rows = await conn.fetch(
                f"SELECT blkno, offnum, attnum, msg FROM {schema}.verify_heapam("  # noqa: S608
                "$1::oid::regclass, check_toast => true) LIMIT $2",
                oid,
                HEAP_MESSAGES,
            )
        except asyncpg.InsufficientPrivilegeError:
            raise
        except asyncpg.PostgresError as exc:  # a page that fails its checksum
            findings.append(Finding("heap_corrupt", table, Remedy.RESTORE, {"error": str(exc)}))
            continue
        if rows:
            problems = [dict(r) for r in rows]
            findings.append(Finding("heap_corrupt", table, Remedy.RESTORE, {"problems": problems}))
    return findings


async def _verify_indexes(
    conn: ConnectionLike, schema: str, unreadable: set[str], progress: Progress
) -> list[Finding]:
    findings = []
    for oid, index, table in await conn.fetch(_INDEXES, list(SCHEMAS)):
        if table in unreadable:
            continue
        progress(f"amcheck index {index}")
        try:
            # heapallindexed: every row of the table must be found in the index too.
            await conn.execute(
                f"SELECT {schema}.bt_index_check($1::oid::regclass, heapallindexed => true)",
                oid,
            )
        except asyncpg.PostgresError as exc:
            # Class XX: a row missing from the index or a page failing its checksum
            # (XX001), a corrupt structure (XX002), a block that cannot be read
            # (XX000); a rebuild from the table fixes each.
            if not (exc.sqlstate or "").startswith("XX"):
                raise
            detail = {"table": table, "error": str(exc), "sqlstate": exc.sqlstate}
            findings.append(Finding("index_corrupt", index, Remedy.CORRECT, detail))
    return findings


async def _sequences(conn: ConnectionLike, unreadable: set[str]) -> list[Finding]:
    findings = []
    for table, column, sequence in await conn.fetch(_SEQUENCES, list(SCHEMAS)):
        if table in unreadable:  # its largest id cannot be read: a restore finding already
            continue
        row = await conn.fetchrow(
            f"SELECT (SELECT max({column}) FROM {table}) AS max_id, "  # noqa: S608
            "s.last_value, s.start_value, s.increment_by FROM pg_sequences s "
            "WHERE (quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename))::regclass "
            "= $1::regclass",
            sequence,
        )
        if row is None or row["max_id"] is None:
            continue
        last = row["last_value"]
        upcoming = row["start_value"] if last is None else last + row["increment_by"]
        if row["max_id"] >= upcoming:
            detail = {"table": table, "max_id": row["max_id"], "next_value": upcoming}
            findings.append(Finding("sequence_behind", sequence, Remedy.CORRECT, detail))
    return findings


async def repair(
    db: Database, findings: list[Finding], progress: Progress = _quiet
) -> list[Repair]:
    """Correct, quarantine or refer to a restore each finding, logging each repair."""
    checks = {c.name: c for c in CHECKS}
    done: list[Repair] = []
    for finding in findings:
        progress(f"repairing {finding.check} {finding.key}")
        if finding.remedy is Remedy.RESTORE:
            done.append(Repair(finding.check, finding.key, "restore from a backup", None))
            continue
        if finding.check == "index_corrupt":
            done.append(await _reindex(db, finding))
            continue
        async with db.transaction() as conn:
            if finding.check == "sequence_behind":
                await conn.execute(
                    "SELECT setval($1::regclass, $2::bigint)", finding.key, finding.detail["max_id"]
                )
                after: dict[str, Any] = {"last_value": finding.detail["max_id"]}
                action = "corrected"
            elif finding.remedy is Remedy.CORRECT:
                # Each correction re-checks its fault in its statement: on a live
                # cluster the row may have been put right (a player placed again) since.
                corrected = await conn.fetchval(checks[finding.check].repair, finding.key)
                if corrected is None:
                    done.append(Repair(finding.check, finding.key, "no longer needed", None))
                    continue
                after = _row(corrected)
                action = "corrected"
            else:
                after = await _quarantine(conn, checks[finding.check], finding)
                action = "quarantined"
            await conn.execute(
                "INSERT INTO ops.repairs (check_name, target, action, before, after) "
                "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)",
                finding.check,
                finding.key,
                action,
                json.dumps(finding.detail),
                json.dumps(after),
            )
        done.append(Repair(finding.check, finding.key, action, after))
    return done


async def _reindex(db: Database, finding: Finding) -> Repair:
    """Rebuild the index from its table without blocking the game's writes, then log it."""
    async with db.connection() as conn:
        index = await conn.fetchval(_INDEX_NAME, finding.key, list(SCHEMAS))
        if index is None:
            raise StoreError(f"index_corrupt: {finding.key} is not an index of realmkit's")
        try:
            try:
                # Outside any transaction (CONCURRENTLY cannot run in one).
                await conn.execute(f"REINDEX INDEX CONCURRENTLY {index}")
            except asyncpg.FeatureNotSupportedError:  # an exclusion constraint's index
                await conn.execute(f"REINDEX INDEX {index}")
        except asyncpg.PostgresError as exc:
            raise StoreError(f"index_corrupt: REINDEX {index}: {exc}", exc.sqlstate) from exc
    after = {"reindexed": index}
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO ops.repairs (check_name, target, action, before, after) "
            "VALUES ($1, $2, 'corrected', $3::jsonb, $4::jsonb)",
            finding.check,
            finding.key,
            json.dumps(finding.detail),
            json.dumps(after),
        )
    return Repair(finding.check, finding.key, "corrected", after)


async def _quarantine(conn: ConnectionLike, check: Check, finding: Finding) -> dict[str, Any]:
    moved = await conn.fetchval(
        f"WITH gone AS (DELETE FROM {check.table} t WHERE {check.key_column}::text = $1 "  # noqa: S608
        "RETURNING to_jsonb(t) AS row_data) "
        "INSERT INTO ops.quarantine (source_table, check_name, row_data) "
        "SELECT $2, $3, row_data FROM gone RETURNING quarantine_id",
        finding.key,
        check.table,
        check.name,
    )
    return {"quarantine_id": moved}
