"""Shared core of the Spotify listening-history service."""
