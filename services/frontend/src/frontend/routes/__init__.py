"""Page routers of the admin UI."""
