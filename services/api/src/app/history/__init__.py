"""Listening statistics: routes, service, SQL and schemas."""
