"""Plays on their way into the database, from any source."""
