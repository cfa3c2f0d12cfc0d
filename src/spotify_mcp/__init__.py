"""The spotify-mcp command line."""
