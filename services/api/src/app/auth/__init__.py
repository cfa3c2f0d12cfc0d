"""Spotify OAuth: login, callback, logout."""
