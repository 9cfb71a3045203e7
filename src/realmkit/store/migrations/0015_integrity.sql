-- `realmkit db check --repair` (realmkit/store/integrity.py): what it cannot
-- correct it moves here as JSON, never deleting a row outright; every repair
-- is logged with the row before and after.
CREATE SCHEMA ops;

CREATE TABLE ops.repairs (
    repair_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_name   text NOT NULL,
    target       text NOT NULL,
    action       text NOT NULL CHECK (action IN ('corrected', 'quarantined')),
    before       jsonb,
    after        jsonb,
    repaired_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ops.quarantine (
    quarantine_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_table    text NOT NULL,
    check_name      text NOT NULL,
    row_data        jsonb NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);

-- Items whose owner is gone wait here for an operator (or a game master's
-- mail) to give them back; the row is the item as it was.
CREATE TABLE ops.recovery_mailbox (
    item_id          bigint PRIMARY KEY,
    former_owner_id  bigint NOT NULL,
    item             jsonb NOT NULL,
    recovered_at     timestamptz NOT NULL DEFAULT now()
);
