"""The admin frontend service."""
