"""How to configure Spotify, said once for the pages, the admin UI and the log."""

from __future__ import annotations


def spotify_setup_steps(redirect_uri: str) -> list[str]:
    """The steps that connect this service to a Spotify developer app."""
    return [
        "Create an app in Spotify's developer dashboard (Development Mode is fine: the app "
        "owner needs Premium, and at most 5 listeners can use it).",
        f"Add the redirect URI {redirect_uri} to the app. Spotify refuses localhost: use "
        "127.0.0.1, or an https URL when deployed.",
        "Put SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET from the app in a .env file at the "
        "project root and restart (make run).",
        "No Spotify account at hand? make demo runs everything against a bundled fake Spotify.",
    ]
