"""Embedded engines from pip-installed binaries: NATS (``embedded``), PostgreSQL (``postgres``)."""
