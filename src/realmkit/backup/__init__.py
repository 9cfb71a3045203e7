"""Backups of the cluster's database: the Barman adapter (``barman``)."""
