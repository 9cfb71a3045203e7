"""realmkit: a clustered MMO realm server on NATS and PostgreSQL."""
