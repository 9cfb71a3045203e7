"""The orchestrator: instance registry, player placement (state lives in PostgreSQL)."""
