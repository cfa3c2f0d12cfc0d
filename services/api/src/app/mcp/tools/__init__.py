"""The tool handlers, grouped by what they read: history, ops and Spotify."""
