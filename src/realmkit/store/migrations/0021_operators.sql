-- Operators: accounts that may use the operations page (/ops) and its API
-- (/api/ops/...). A role column rather than a table of operators: whether an
-- account may act is read with the account itself (one row, one lookup per
-- request), an account has exactly one role, and a later role (a game master)
-- is one more value of the CHECK. `realmkit operator add|list|remove` sets it.
ALTER TABLE auth.accounts
    ADD COLUMN role text NOT NULL DEFAULT 'player' CHECK (role IN ('player', 'operator'));
CREATE INDEX accounts_operators ON auth.accounts (account_id) WHERE role = 'operator';

-- What each node's process costs its host, written with its heartbeat (NULL until
-- a node of this version has beaten): the CPU it used since its last beat, as a
-- percent of one core, and its resident memory.
ALTER TABLE cluster.nodes
    ADD COLUMN cpu_percent real CHECK (cpu_percent >= 0),
    ADD COLUMN memory_bytes bigint CHECK (memory_bytes >= 0);

-- The operations page counts the live tickets of each queue every few seconds.
CREATE INDEX tickets_live ON matchmaking.tickets (pool_id, activity_id, state)
    WHERE state IN ('queued', 'proposed', 'accepted', 'in_match');
