"""`python -m spotify_mcp` is the `spotify-mcp` command."""

from spotify_mcp.cli import main

main()
