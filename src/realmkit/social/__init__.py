"""Sans-I/O rules of the social features: guilds, trades."""
