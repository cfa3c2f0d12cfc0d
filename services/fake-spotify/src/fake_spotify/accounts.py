"""The Accounts service: the consent page at /authorize and the token endpoint at /api/token."""

from __future__ import annotations

import base64
import binascii
from html import escape
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from fake_spotify.errors import AuthorizeError, TokenEndpointError
from fake_spotify.scopes import SCOPE_DESCRIPTIONS
from fake_spotify.state import FakeSpotifyState, RegisteredApp, TokenGrant

_GRANT_TYPE_HELP = "grant_type must be client_credentials, authorization_code or refresh_token"


def redirect_with(redirect_uri: str, params: dict[str, str]) -> str:
    """The redirect URI with query parameters appended, keeping any it already has."""
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(params)}"


class AccountsRouter:
    """Routes of accounts.spotify.com: authorization and tokens."""

    def __init__(self, state: FakeSpotifyState) -> None:
        self.state = state
        self.router = APIRouter(tags=["accounts"])
        self.router.add_api_route(
            "/authorize", self.authorize, methods=["GET"], response_model=None
        )
        self.router.add_api_route("/authorize", self.decide, methods=["POST"], response_model=None)
        self.router.add_api_route("/api/token", self.token, methods=["POST"], response_model=None)

    # -- /authorize ------------------------------------------------------------------------

    def authorize(
        self,
        client_id: Annotated[str, Query()] = "",
        response_type: Annotated[str, Query()] = "",
        redirect_uri: Annotated[str, Query()] = "",
        state: Annotated[str | None, Query()] = None,
        scope: Annotated[str, Query()] = "",
        show_dialog: Annotated[str, Query()] = "false",
    ) -> Response:
        """Ask the user to approve the app, or redirect at once when a test auto-approves."""
        try:
            app = self._checked_app(client_id, redirect_uri)
        except AuthorizeError as error:
            return _error_page(error.message)
        echo = {"state": state} if state is not None else {}
        if response_type != "code":
            return _redirect(
                redirect_with(redirect_uri, {"error": "unsupported_response_type"} | echo)
            )
        scopes = scope.split()
        if any(s not in SCOPE_DESCRIPTIONS for s in scopes):
            return _redirect(redirect_with(redirect_uri, {"error": "invalid_scope"} | echo))
        auto_user = self.state.switches.auto_approve_user_id
        if auto_user is not None:
            code = self.state.issue_code(app.client_id, auto_user, redirect_uri, scopes)
            return _redirect(redirect_with(redirect_uri, {"code": code} | echo))
        return HTMLResponse(self._consent_page(app, redirect_uri, state, scopes))

    def decide(
        self,
        client_id: Annotated[str, Form()],
        redirect_uri: Annotated[str, Form()],
        decision: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        user_id: Annotated[str, Form()] = "",
        state: Annotated[str | None, Form()] = None,
    ) -> Response:
        """The consent form's answer: redirect back with a code, or with access_denied."""
        try:
            app = self._checked_app(client_id, redirect_uri)
        except AuthorizeError as error:
            return _error_page(error.message)
        echo = {"state": state} if state is not None else {}
        if decision != "accept":
            return _redirect(redirect_with(redirect_uri, {"error": "access_denied"} | echo), 303)
        if user_id not in self.state.users:
            return _error_page("Unknown user")
        code = self.state.issue_code(app.client_id, user_id, redirect_uri, scope.split())
        return _redirect(redirect_with(redirect_uri, {"code": code} | echo), 303)

    def _checked_app(self, client_id: str, redirect_uri: str) -> RegisteredApp:
        app = self.state.client_for(client_id)
        if app is None:
            raise AuthorizeError("INVALID_CLIENT: Invalid client")
        if redirect_uri not in app.redirect_uris:
            raise AuthorizeError("INVALID_CLIENT: Invalid redirect URI")
        return app

    def _consent_page(
        self, app: RegisteredApp, redirect_uri: str, state: str | None, scopes: list[str]
    ) -> str:
        users = "".join(
            f'<option value="{escape(user.id)}">{escape(user.profile.display_name)}'
            f" ({escape(user.id)})</option>"
            for user in self.state.users.values()
        )
        scope_items = "".join(
            f"<li>{escape(SCOPE_DESCRIPTIONS[s])} <code>{escape(s)}</code></li>" for s in scopes
        )
        hidden = {
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
        }
        if state is not None:
            hidden["state"] = state
        hidden_inputs = "".join(
            f'<input type="hidden" name="{name}" value="{escape(value)}">'
            for name, value in hidden.items()
        )
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Spotify: authorize</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;color:#191414}}
button{{padding:.6rem 1.4rem;border-radius:2rem;border:0;margin-right:.5rem;cursor:pointer}}
.agree{{background:#1db954;color:#fff}}</style></head>
<body><h1>{escape(app.name)}</h1>
<p>This app (a stand-in for Spotify) would like to:</p><ul>{scope_items}</ul>
<form method="post" action="/authorize">{hidden_inputs}
<label>Log in as <select name="user_id">{users}</select></label>
<p><button class="agree" name="decision" value="accept">Agree</button>
<button name="decision" value="cancel">Cancel</button></p></form></body></html>"""

    # -- /api/token ------------------------------------------------------------------------

    async def token(self, request: Request) -> JSONResponse:
        """Exchange an authorization code, or a refresh token, for an access token."""
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        try:
            app = self._authenticated_client(request.headers.get("authorization"), fields)
            grant = self._grant(app, fields)
        except TokenEndpointError as error:
            return JSONResponse(
                {"error": error.error, "error_description": error.description},
                status_code=error.status,
            )
        body: dict[str, str | int] = {
            "access_token": grant.access_token,
            "token_type": "Bearer",
            "scope": grant.scope,
            "expires_in": grant.expires_in,
        }
        if grant.refresh_token is not None:
            body["refresh_token"] = grant.refresh_token
        return JSONResponse(body, headers={"cache-control": "no-store"})

    def _authenticated_client(
        self, authorization: str | None, fields: dict[str, str]
    ) -> RegisteredApp:
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise TokenEndpointError("invalid_client", "Invalid client") from None
            client_id, _, client_secret = decoded.partition(":")
        else:
            client_id = fields.get("client_id", "")
            client_secret = fields.get("client_secret", "")
        if not client_id:
            raise TokenEndpointError("invalid_client", "Invalid client")
        return self.state.authenticate_client(client_id, client_secret)

    def _grant(self, app: RegisteredApp, fields: dict[str, str]) -> TokenGrant:
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise TokenEndpointError("unsupported_grant_type", "grant_type parameter is missing")
        if grant_type == "authorization_code":
            code = fields.get("code")
            if not code:
                raise TokenEndpointError("invalid_request", "code must be supplied")
            return self.state.redeem_code(code, app.client_id, fields.get("redirect_uri"))
        if grant_type == "refresh_token":
            refresh_token = fields.get("refresh_token")
            if not refresh_token:
                raise TokenEndpointError("invalid_request", "refresh_token must be supplied")
            return self.state.refresh(refresh_token, app.client_id)
        raise TokenEndpointError("unsupported_grant_type", _GRANT_TYPE_HELP)


def _redirect(location: str, status_code: int = 302) -> RedirectResponse:
    return RedirectResponse(location, status_code=status_code)


def _error_page(message: str) -> HTMLResponse:
    # Spotify shows a plain error page (not a redirect) when it cannot trust the redirect URI.
    return HTMLResponse(
        f"<!doctype html><html><body><h1>Oops! Something went wrong</h1>"
        f"<p>{escape(message)}</p></body></html>",
        status_code=400,
    )
