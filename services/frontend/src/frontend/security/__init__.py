"""Login sessions, CSRF tokens and browser hardening of the admin UI."""
