-- Each gateway looks every few seconds for characters in the world under its name
-- with no player behind them (issue 16): an index over the seats in the world only,
-- so the look stays cheap however many characters are offline.
CREATE INDEX player_assignments_gateway_in_world
    ON characters.player_assignments (gateway_id) WHERE state = 'in_world';
