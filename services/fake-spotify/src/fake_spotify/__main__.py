"""Run the fake Spotify in the foreground: `python -m fake_spotify --port 8090 ...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime

import uvicorn

from fake_spotify.app import create_fake_spotify_app
from fake_spotify.state import DEFAULT_SEED, FakeSpotifyState, RegisteredApp

DEFAULT_CLIENT_ID = "fakespotifydemoclient0000000000"
DEFAULT_CLIENT_SECRET = "fake-spotify-demo-secret"  # noqa: S105 - a public demo value
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"


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
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help="The app's client secret."
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the fake and serve until interrupted."""
    args = parse_args(argv)
    app = RegisteredApp(
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=frozenset(args.redirect_uris or [DEFAULT_REDIRECT_URI]),
    )
    try:
        state = FakeSpotifyState(seed=args.seed, apps=[app], history_anchor=args.history_anchor)
    except ValueError as error:
        print(f"fake_spotify: {error}", file=sys.stderr)
        return 2
    state.switches.auto_approve_user_id = args.auto_approve
    base = f"http://{args.host}:{args.port}"
    print(
        f"fake Spotify on {base}: accounts {base}, api {base}/v1, "
        f"control {base}/_control, users: {', '.join(state.users)}"
    )
    uvicorn.run(create_fake_spotify_app(state), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
