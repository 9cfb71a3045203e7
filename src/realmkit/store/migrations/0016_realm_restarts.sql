-- Realm restarts (`realmkit realm restart`, and the node file's daily one):
-- realmkit/lifecycle/restart.py holds the same moves (a test keeps them
-- identical). The orchestrators' leader counts each one down, telling the
-- realm's players at every mark it passes (warned_seconds: the last mark told,
-- so a new leader does not tell it again), then restarts the realm's spaces.
CREATE TABLE cluster.realm_restarts (
    restart_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm_id        integer NOT NULL REFERENCES auth.realmlist ON DELETE CASCADE,
    due_at          timestamptz NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('operator', 'daily')),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN
                        ('pending', 'running', 'done', 'failed', 'cancelled')),
    warned_seconds  integer CHECK (warned_seconds >= 0),
    spaces          integer NOT NULL DEFAULT 0 CHECK (spaces >= 0),
    players         integer NOT NULL DEFAULT 0 CHECK (players >= 0),
    detail          text NOT NULL DEFAULT '',
    requested_at    timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    -- A daily restart is asked for once per day, whoever leads.
    UNIQUE (realm_id, due_at, reason)
);

-- Rule 1: one open restart per realm.
CREATE UNIQUE INDEX realm_restarts_one_open ON cluster.realm_restarts (realm_id)
    WHERE state IN ('pending', 'running');

CREATE TABLE cluster.realm_restart_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);

INSERT INTO cluster.realm_restart_moves (from_state, to_state) VALUES
    ('pending', 'running'),
    ('pending', 'cancelled'),
    ('running', 'done'),
    ('running', 'failed');

CREATE FUNCTION cluster.refuse_illegal_restart_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM cluster.realm_restart_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'realm restart %: cannot go from % to %', OLD.restart_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER realm_restarts_legal_moves
    BEFORE UPDATE OF state ON cluster.realm_restarts
    FOR EACH ROW EXECUTE FUNCTION cluster.refuse_illegal_restart_move();
