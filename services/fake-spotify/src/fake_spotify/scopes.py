"""The OAuth scopes Spotify knows."""

from __future__ import annotations

# The scopes Spotify knows, with the words its consent page uses for them.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "app-remote-control": "Communicate with the Spotify app on your device.",
    "playlist-read-private": "Access your private playlists.",
    "playlist-read-collaborative": "Access your collaborative playlists.",
    "playlist-modify-public": "Manage your public playlists.",
    "playlist-modify-private": "Manage your private playlists.",
    "user-library-read": "Access your saved content.",
    "user-library-modify": "Manage your saved content.",
    "user-read-private": "Access your subscription details.",
    "user-read-email": "Get your real email address.",
    "user-follow-read": "Access your followers and who you are following.",
    "user-follow-modify": "Manage who you are following.",
    "user-top-read": "Read your top artists and content.",
    "user-read-playback-position": "Read your position in content you have played.",
    "user-read-playback-state": "Read your currently playing content and devices.",
    "user-read-recently-played": "Access your recently played items.",
    "user-read-currently-playing": "Read your currently playing content.",
    "user-modify-playback-state": "Control playback on your Spotify clients.",
    "ugc-image-upload": "Upload images to Spotify on your behalf.",
    "streaming": "Play content and control playback on your other devices.",
}

ALL_SCOPES: tuple[str, ...] = tuple(SCOPE_DESCRIPTIONS)
