"""A local stand-in for Spotify, for tests and demos."""
