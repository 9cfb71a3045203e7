-- The assignment and node lifecycles, enforced by the database like the
-- instance one (0003): realmkit/lifecycle/assignment.py and node.py hold the
-- same tables (their MOVES); a test keeps them identical. An illegal move
-- raises SQLSTATE RK002. Only updates that change the state are checked, so
-- the rows already stored are left as they are.

CREATE TABLE characters.assignment_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);

INSERT INTO characters.assignment_moves (from_state, to_state) VALUES
    ('placing', 'in_world'),
    ('placing', 'transferring'),
    ('placing', 'offline'),
    ('in_world', 'placing'),
    ('in_world', 'transferring'),
    ('in_world', 'offline'),
    ('transferring', 'placing'),
    ('transferring', 'in_world'),
    ('transferring', 'offline'),
    ('offline', 'placing');

CREATE FUNCTION characters.refuse_illegal_assignment_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM characters.assignment_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'assignment %: cannot go from % to %', OLD.character_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER player_assignments_legal_moves
    BEFORE UPDATE OF state ON characters.player_assignments
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_illegal_assignment_move();

CREATE TABLE cluster.node_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);

INSERT INTO cluster.node_moves (from_state, to_state) VALUES
    ('starting', 'ready'),
    ('starting', 'draining'),
    ('starting', 'unhealthy'),
    ('starting', 'stopped'),
    ('ready', 'starting'),
    ('ready', 'draining'),
    ('ready', 'unhealthy'),
    ('ready', 'stopped'),
    ('draining', 'starting'),
    ('draining', 'unhealthy'),
    ('draining', 'stopped'),
    ('unhealthy', 'starting'),
    ('unhealthy', 'ready'),
    ('unhealthy', 'draining'),
    ('unhealthy', 'stopped'),
    ('stopped', 'starting');

CREATE FUNCTION cluster.refuse_illegal_node_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM cluster.node_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'node %: cannot go from % to %', OLD.node_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

-- ON CONFLICT DO UPDATE (a node registering again) fires it too.
CREATE TRIGGER nodes_legal_moves
    BEFORE UPDATE OF state ON cluster.nodes
    FOR EACH ROW EXECUTE FUNCTION cluster.refuse_illegal_node_move();
