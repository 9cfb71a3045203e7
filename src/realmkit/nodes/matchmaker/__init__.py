"""The matchmaker: cross-realm queues, matches, and the way into them and back."""
