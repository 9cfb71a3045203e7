-- What the backup node knows of the backups, for `realmkit status`, which may run
-- on another host than the backups: one row per backup node, its latest base
-- backup and its latest restore check (realmkit/backup/check.py), written after
-- each backup and each check.
CREATE TABLE ops.backup_checks (
    node_id          text PRIMARY KEY,
    backup_id        text NOT NULL DEFAULT '',
    backup_ended_at  timestamptz,
    -- true: verified when taken; false: its verification failed; NULL: not
    -- verified by the node (taken by `realmkit backup create`, found at a restart).
    backup_verified  boolean,
    check_backup_id  text NOT NULL DEFAULT '',
    check_ok         boolean,  -- NULL: no restore check yet
    check_reason     text NOT NULL DEFAULT '',
    check_seconds    double precision NOT NULL DEFAULT 0 CHECK (check_seconds >= 0),
    checked_at       timestamptz,
    -- Characters in the restored copy: to compare with the live database.
    check_characters bigint NOT NULL DEFAULT 0 CHECK (check_characters >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
