"""Lifecycle state machines as data: one module per lifecycle."""
