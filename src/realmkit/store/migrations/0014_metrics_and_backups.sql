-- Every node serves Prometheus metrics on a port of its own (0 in the node file
-- picks a free one at start): its row says which, for `realmkit status` and for
-- whoever configures the scrapes. The backup node is a role of its own.
ALTER TABLE cluster.nodes
    ADD COLUMN metrics_port integer NOT NULL DEFAULT 0 CHECK (metrics_port BETWEEN 0 AND 65535);

ALTER TABLE cluster.nodes DROP CONSTRAINT nodes_role_check;
ALTER TABLE cluster.nodes ADD CONSTRAINT nodes_role_check CHECK (role IN
    ('login', 'gateway', 'world', 'orchestrator', 'matchmaker', 'reviver', 'backup'));
