"""The ``realmkit`` command: ``main`` (the entry point), one module per command group."""
