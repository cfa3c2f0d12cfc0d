"""Importing Spotify privacy-export archives: parse, normalise, deduplicate, store."""
