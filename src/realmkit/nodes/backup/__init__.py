"""The backup node: continuous backups of the cluster's PostgreSQL."""
