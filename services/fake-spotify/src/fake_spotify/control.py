"""The control API under /_control: lets tests and demos steer the fake over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, ValidationError

from fake_spotify.history import Play
from fake_spotify.render import format_timestamp
from fake_spotify.state import FailureTarget, FakeSpotifyState, Switches


class FailureRequest(BaseModel):
    """Inject failures: the next `count` matching requests (null: all) get `status`."""

    status: int = Field(ge=400, le=599)
    count: int | None = Field(default=1, ge=1)
    retry_after_seconds: int | None = Field(default=None, ge=0)
    target: FailureTarget = "api"


class PlayRequest(BaseModel):
    """One given play to append."""

    track_id: str
    played_at: datetime | None = None


class PlaysRequest(BaseModel):
    """Append plays: `count` plausible ones ending now, or exactly the given ones."""

    count: int = Field(default=1, ge=1, le=10_000)
    plays: list[PlayRequest] | None = None


class UserRequest(BaseModel):
    """Create a user; `allowlist_for` lists apps to allowlist them in (null: every app)."""

    id: str = Field(min_length=1)
    display_name: str
    email: str | None = None
    history_days: int = Field(default=0, ge=0, le=3650)
    allowlist_for: list[str] | None = None


class AppRequest(BaseModel):
    """Register a developer app."""

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    redirect_uris: list[str]
    allowlist: list[str] | None = None


class TokensRequest(BaseModel):
    """Mint tokens for a user without the consent page."""

    client_id: str | None = None
    scope: str | None = None


class AllowlistRequest(BaseModel):
    """A user to add to an app's allowlist."""

    user_id: str


def _play_json(play: Play) -> dict[str, str]:
    return {
        "track_id": play.track_id,
        "uri": f"spotify:track:{play.track_id}",
        "played_at": format_timestamp(play.played_at),
    }


class ControlRouter:
    """Switches, failure injection, users, plays and request counters, over HTTP."""

    def __init__(self, state: FakeSpotifyState) -> None:
        self.state = state
        self.router = APIRouter(prefix="/_control", tags=["control"])
        routes: list[tuple[str, Any, str]] = [
            ("/switches", self.get_switches, "GET"),
            ("/switches", self.set_switches, "POST"),
            ("/failures", self.add_failures, "POST"),
            ("/failures", self.clear_failures, "DELETE"),
            ("/reset", self.reset, "POST"),
            ("/requests", self.requests, "GET"),
            ("/requests", self.clear_requests, "DELETE"),
            ("/apps", self.register_app, "POST"),
            ("/apps/{client_id}/allowlist", self.allowlist_user, "POST"),
            ("/apps/{client_id}/allowlist/{user_id}", self.remove_from_allowlist, "DELETE"),
            ("/users", self.add_user, "POST"),
            ("/users/{user_id}/plays", self.add_plays, "POST"),
            ("/users/{user_id}/revoke", self.revoke, "POST"),
            ("/users/{user_id}/tokens", self.issue_tokens, "POST"),
            ("/users/{user_id}/expire-tokens", self.expire_tokens, "POST"),
        ]
        for path, endpoint, method in routes:
            self.router.add_api_route(path, endpoint, methods=[method], response_model=None)

    def get_switches(self) -> dict[str, Any]:
        """The current behaviour switches."""
        return self.state.switches.model_dump()

    def set_switches(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change some switches; the others keep their values."""
        try:
            switches = Switches.model_validate(self.state.switches.model_dump() | changes)
        except ValidationError as error:
            raise HTTPException(422, error.errors(include_url=False)) from None
        self.state.switches = switches
        return switches.model_dump()

    def add_failures(self, failure: FailureRequest) -> dict[str, str]:
        """Inject failures into the next matching requests."""
        self.state.inject_failures(
            failure.status,
            failure.count,
            retry_after_seconds=failure.retry_after_seconds,
            target=failure.target,
        )
        return {"status": "ok"}

    def clear_failures(self) -> dict[str, str]:
        """Stop injecting failures."""
        self.state.clear_failures()
        return {"status": "ok"}

    def reset(self) -> dict[str, str]:
        """Back to the seeded state: users, no grants, no playlists, default switches."""
        self.state.reset()
        return {"status": "ok"}

    def requests(self) -> dict[str, Any]:
        """How many requests reached each path, and their order."""
        with self.state.lock:
            return {
                "counts": dict(self.state.request_counts),
                "log": [f"{method} {path}" for method, path in self.state.request_log],
            }

    def clear_requests(self) -> dict[str, str]:
        """Zero the request counters."""
        with self.state.lock:
            self.state.request_counts.clear()
            self.state.request_log.clear()
        return {"status": "ok"}

    def register_app(self, app: AppRequest) -> dict[str, Any]:
        """Register a developer app (redirect URIs must be https or http://127.0.0.1)."""
        try:
            registered = self.state.register_app(
                app.client_id, app.client_secret, app.redirect_uris, allowlist=app.allowlist
            )
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        return {"client_id": registered.client_id, "allowlist": sorted(registered.allowlist)}

    def allowlist_user(self, client_id: str, member: AllowlistRequest) -> dict[str, Any]:
        """Add a user to an app's Development-Mode allowlist (at most five)."""
        if client_id not in self.state.apps:
            raise HTTPException(404, "unknown app")
        try:
            self.state.allowlist_user(client_id, member.user_id)
        except ValueError as error:
            raise HTTPException(409, str(error)) from None
        return {"allowlist": sorted(self.state.apps[client_id].allowlist)}

    def remove_from_allowlist(self, client_id: str, user_id: str) -> dict[str, Any]:
        """Remove a user from an app's allowlist."""
        if client_id not in self.state.apps:
            raise HTTPException(404, "unknown app")
        self.state.remove_from_allowlist(client_id, user_id)
        return {"allowlist": sorted(self.state.apps[client_id].allowlist)}

    def add_user(self, user: UserRequest) -> dict[str, Any]:
        """Create a user, allowlisted in the given apps (default: all)."""
        apps = user.allowlist_for if user.allowlist_for is not None else list(self.state.apps)
        try:
            created = self.state.add_user(
                user.id,
                user.display_name,
                email=user.email,
                history_days=user.history_days,
                allowlist_for=apps,
            )
        except ValueError as error:
            raise HTTPException(409, str(error)) from None
        return {"id": created.id, "plays": len(created.plays)}

    def add_plays(self, user_id: str, request: PlaysRequest) -> dict[str, Any]:
        """Append plays to a user's history so a poller has something new to find."""
        if user_id not in self.state.users:
            raise HTTPException(404, "unknown user")
        try:
            if request.plays is not None:
                plays = [
                    self.state.add_play(user_id, play.track_id, play.played_at)
                    for play in request.plays
                ]
            else:
                plays = self.state.add_plays(user_id, request.count)
        except (KeyError, ValueError) as error:
            raise HTTPException(400, str(error)) from None
        return {"plays": [_play_json(play) for play in plays]}

    def revoke(self, user_id: str) -> dict[str, int]:
        """Revoke a user's refresh tokens: refreshing answers invalid_grant from now on."""
        return {"revoked": self.state.revoke_refresh_tokens(user_id)}

    def issue_tokens(self, user_id: str, request: TokensRequest) -> dict[str, Any]:
        """Mint an access and refresh token for a user, as the token endpoint would."""
        if user_id not in self.state.users:
            raise HTTPException(404, "unknown user")
        scopes = request.scope.split() if request.scope is not None else None
        grant = self.state.issue_tokens(user_id, request.client_id, scopes)
        return {
            "access_token": grant.access_token,
            "token_type": "Bearer",
            "scope": grant.scope,
            "expires_in": grant.expires_in,
            "refresh_token": grant.refresh_token,
        }

    def expire_tokens(self, user_id: str) -> dict[str, str]:
        """Make the user's current access tokens expired."""
        self.state.expire_access_tokens(user_id)
        return {"status": "ok"}
