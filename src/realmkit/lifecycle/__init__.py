"""Lifecycle state machines as data: one module per lifecycle (instance,
assignment, node, ticket, match), each a state Enum, an event Enum, a
``TRANSITIONS`` table that ``next_state`` consults, and the ``MOVES`` the
schema's trigger enforces."""
