"""Authentication cores without I/O: password hashes, signed tickets, rate limits."""
