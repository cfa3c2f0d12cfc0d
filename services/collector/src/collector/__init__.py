"""The background collector service."""
