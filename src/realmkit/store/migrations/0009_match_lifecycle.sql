-- The match lifecycle, enforced here as realmkit/lifecycle/match.py enforces it
-- in Python (a test keeps the two identical). RK002: illegal move.
CREATE TABLE matchmaking.match_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO matchmaking.match_moves (from_state, to_state) VALUES
    ('proposed', 'accepted'),
    ('proposed', 'cancelled'),
    ('accepted', 'cancelled'),
    ('accepted', 'running'),
    ('running', 'done');

CREATE FUNCTION matchmaking.refuse_illegal_match_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM matchmaking.match_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'match %: cannot go from % to %', OLD.match_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER matches_legal_moves
    BEFORE UPDATE OF state ON matchmaking.matches
    FOR EACH ROW EXECUTE FUNCTION matchmaking.refuse_illegal_match_move();
