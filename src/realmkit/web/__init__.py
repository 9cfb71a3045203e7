"""The browser client and the operations page, as static files the login node serves."""
