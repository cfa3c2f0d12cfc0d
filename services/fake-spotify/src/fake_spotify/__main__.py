"""Run the fake Spotify in the foreground: `python -m fake_spotify --port 8090 ...`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import uvicorn

from fake_spotify.app import create_fake_spotify_app
from fake_spotify.state import DEFAULT_SEED, FakeSpotifyState, RegisteredApp

DEFAULT_CLIENT_ID = "fakespotifydemoclient0000000000"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"
CLIENT_SECRET_ENV = "FAKE_SPOTIFY_CLIENT_SECRET"  # noqa: S105 - a variable's name, not a secret


class StartupError(Exception):
    """Why the fake cannot start, in words for the person who started it."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options of the demo server."""
    parser = argparse.ArgumentParser(
        prog="python -m fake_spotify",
        description="A local stand-in for Spotify's Accounts service and Web API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on.")
    parser.add_argument("--port", type=int, default=8090, help="Port to listen on.")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="Catalogue and history seed."
    )
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="The app's client ID.")
    parser.add_argument(
        "--client-secret",
        default=None,
        help=(
            f"The app's client secret. Without this flag it is read from {CLIENT_SECRET_ENV}; "
            "the flag wins when both are set. Prefer the variable: other users of the machine "
            "can read a command line (ps)."
        ),
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        help="A registered redirect URI (repeat for several).",
    )
    parser.add_argument(
        "--auto-approve",
        metavar="USER_ID",
        default=None,
        help="Skip the consent page and authorise this user at once.",
    )
    parser.add_argument(
        "--history-anchor",
        type=datetime.fromisoformat,
        default=None,
        help="ISO time the seeded histories end at (default: now).",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        metavar="PATH",
        help=(
            "Keep issued tokens, playlists and added plays in this JSON file (mode 0600): "
            "loaded at start, rewritten on every change, so a restart forgets no token."
        ),
    )
    return parser.parse_args(argv)


def client_secret(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The app's client secret: --client-secret, else the FAKE_SPOTIFY_CLIENT_SECRET variable."""
    secret: str = args.client_secret or environ.get(CLIENT_SECRET_ENV, "")
    if not secret:
        raise StartupError(
            f"no client secret: set {CLIENT_SECRET_ENV} (or pass --client-secret) to the "
            "secret the service is configured with"
        )
    return secret


def build_state(args: argparse.Namespace, environ: Mapping[str, str]) -> FakeSpotifyState:
    """The fake's state for these options, restored from the state file when one is given."""
    app = RegisteredApp(
        client_id=args.client_id,
        client_secret=client_secret(args, environ),
        redirect_uris=frozenset(args.redirect_uris or [DEFAULT_REDIRECT_URI]),
    )
    try:
        state = FakeSpotifyState(
            seed=args.seed,
            apps=[app],
            history_anchor=args.history_anchor,
            state_file=args.state_file,
        )
    except (ValueError, OSError) as error:
        raise StartupError(str(error)) from error
    state.switches.auto_approve_user_id = args.auto_approve
    return state


def main(argv: Sequence[str] | None = None) -> int:
    """Start the fake and serve until interrupted."""
    args = parse_args(argv)
    try:
        state = build_state(args, os.environ)
    except StartupError as error:
        print(f"fake_spotify: {error}", file=sys.stderr)
        return 2
    base = f"http://{args.host}:{args.port}"
    kept = f", state kept in {args.state_file}" if args.state_file else ""
    print(
        f"fake Spotify on {base}: accounts {base}, api {base}/v1, "
        f"control {base}/_control, users: {', '.join(state.users)}{kept}"
    )
    uvicorn.run(create_fake_spotify_app(state), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
