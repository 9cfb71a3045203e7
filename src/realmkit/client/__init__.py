"""The Python client library (login API + game socket) and the bot swarm."""
