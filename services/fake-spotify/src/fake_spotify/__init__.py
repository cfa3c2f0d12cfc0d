"""A local stand-in for Spotify, for tests and demos."""

from fake_spotify.app import create_fake_spotify_app
from fake_spotify.server import FakeSpotifyServer
from fake_spotify.state import (
    DEMO_USERS,
    FakeSpotifyState,
    RegisteredApp,
    Switches,
    UserProfile,
)

__all__ = [
    "DEMO_USERS",
    "FakeSpotifyServer",
    "FakeSpotifyState",
    "RegisteredApp",
    "Switches",
    "UserProfile",
    "create_fake_spotify_app",
]
