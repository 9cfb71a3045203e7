-- Many realms and games, per-realm patch chains, cross-realm matchmaking.

-- A pool's realms all run one game: its battlegrounds, arenas and dungeon
-- finder groups mix players of every realm in the pool, in that game's content.
ALTER TABLE cluster.realm_pools ADD COLUMN game_id text REFERENCES cluster.games;
UPDATE cluster.realm_pools p SET game_id = COALESCE(
    (SELECT min(r.game_id) FROM auth.realmlist r WHERE r.pool_id = p.pool_id),
    (SELECT min(g.game_id) FROM cluster.games g));
ALTER TABLE cluster.realm_pools ALTER COLUMN game_id SET NOT NULL;
ALTER TABLE cluster.realm_pools ADD CONSTRAINT realm_pools_pool_game_key UNIQUE (pool_id, game_id);
ALTER TABLE auth.realmlist ADD CONSTRAINT realmlist_pool_game_fkey
    FOREIGN KEY (pool_id, game_id) REFERENCES cluster.realm_pools (pool_id, game_id);
ALTER TABLE characters.instances ADD CONSTRAINT instances_pool_game_fkey
    FOREIGN KEY (pool_id, game_id) REFERENCES cluster.realm_pools (pool_id, game_id);

-- Instances owned by a pool (realm_id NULL) run the pool's patch; a realm's
-- own instances run the realm's (auth.realmlist.active_patch_id).
ALTER TABLE cluster.realm_pools ADD COLUMN active_patch_id bigint;
ALTER TABLE cluster.realm_pools ADD CONSTRAINT realm_pools_active_patch_fkey
    FOREIGN KEY (active_patch_id, game_id) REFERENCES cluster.patches (patch_id, game_id);

-- ------------------------------------------------------------ matchmaking --

-- The ticket lifecycle, enforced here as realmkit/matchmaking/tickets.py
-- enforces it in Python (a test keeps the two identical). RK002: illegal move.
CREATE TABLE matchmaking.ticket_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO matchmaking.ticket_moves (from_state, to_state) VALUES
    ('queued', 'proposed'),
    ('queued', 'cancelled'),
    ('proposed', 'accepted'),
    ('proposed', 'queued'),
    ('proposed', 'cancelled'),
    ('accepted', 'in_match'),
    ('accepted', 'queued'),
    ('accepted', 'cancelled'),
    ('in_match', 'done'),
    ('in_match', 'cancelled');

CREATE FUNCTION matchmaking.refuse_illegal_ticket_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM matchmaking.ticket_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'ticket %: cannot go from % to %', OLD.ticket_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tickets_legal_moves
    BEFORE UPDATE OF state ON matchmaking.tickets
    FOR EACH ROW EXECUTE FUNCTION matchmaking.refuse_illegal_ticket_move();

-- A group found by the matching tick. Its tickets point at it while proposed,
-- accepted and in the match; a declined proposal leaves the match cancelled
-- and the other tickets queued again at their old position (queued_at kept).
CREATE TABLE matchmaking.matches (
    match_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id          integer NOT NULL REFERENCES cluster.realm_pools,
    activity_id      text NOT NULL CHECK (activity_id ~ '^[a-z][a-z0-9_-]{0,31}$'),
    state            text NOT NULL DEFAULT 'proposed' CHECK (state IN
                         ('proposed', 'accepted', 'running', 'done', 'cancelled')),
    -- [[character ids of team 1], [team 2], ...]; roles: {"character id": "tank"}.
    teams            jsonb NOT NULL CHECK (jsonb_typeof(teams) = 'array'),
    roles            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(roles) = 'object'),
    instance_id      bigint REFERENCES characters.instances,
    accept_deadline  timestamptz NOT NULL,
    started_at       timestamptz,
    ends_at          timestamptz,
    -- 1-based team that won; NULL with state done: a draw (time ran out).
    winner           smallint CHECK (winner >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (state NOT IN ('running') OR instance_id IS NOT NULL)
);
CREATE INDEX matches_live_idx ON matchmaking.matches (state) WHERE state IN ('proposed', 'accepted', 'running');

ALTER TABLE matchmaking.tickets
    ADD CONSTRAINT tickets_match_fkey FOREIGN KEY (match_id) REFERENCES matchmaking.matches,
    -- The members who accepted the current proposal.
    ADD COLUMN accepted bigint[] NOT NULL DEFAULT '{}',
    -- Every member's level when it queued (team balance).
    ADD COLUMN levels integer[] NOT NULL DEFAULT '{}';

-- Rated activities (arenas): one rating per character and activity, changed
-- only with a recorded match result, in the same transaction.
CREATE TABLE matchmaking.ratings (
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    activity_id   text NOT NULL CHECK (activity_id ~ '^[a-z][a-z0-9_-]{0,31}$'),
    rating        integer NOT NULL DEFAULT 1500 CHECK (rating BETWEEN 0 AND 10000),
    wins          integer NOT NULL DEFAULT 0 CHECK (wins >= 0),
    losses        integer NOT NULL DEFAULT 0 CHECK (losses >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (character_id, activity_id)
);
