-- The instance lifecycle, enforced by the database (realmkit/lifecycle.py holds the
-- same table; a test keeps them identical). An illegal move raises SQLSTATE RK002.

CREATE TABLE characters.instance_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);

INSERT INTO characters.instance_moves (from_state, to_state) VALUES
    ('requested', 'loading'),
    ('requested', 'gone'),
    ('loading', 'ready'),
    ('loading', 'unhealthy'),
    ('loading', 'gone'),
    ('ready', 'draining'),
    ('ready', 'unhealthy'),
    ('draining', 'stopping'),
    ('draining', 'unhealthy'),
    ('stopping', 'gone'),
    ('stopping', 'unhealthy'),
    ('unhealthy', 'loading'),
    ('unhealthy', 'gone');

CREATE FUNCTION characters.refuse_illegal_instance_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM characters.instance_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'instance %: cannot go from % to %', OLD.instance_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER instances_legal_moves
    BEFORE UPDATE OF state ON characters.instances
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_illegal_instance_move();
