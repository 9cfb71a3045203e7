"""A player's session at a gateway, Sans-I/O: its protocol, what it is allowed, where it plays."""
