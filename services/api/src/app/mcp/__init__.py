"""Tools for assistants: one registry, served over HTTP, MCP and GPT Actions."""
