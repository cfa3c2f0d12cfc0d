"""`AdminApiClient`: the frontend's only way to data is the API over HTTP."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import IO, Any

import httpx
from pydantic import SecretStr

from frontend.timing import ApiWaitTimer

UPLOAD_TIMEOUT = httpx.Timeout(10.0, read=300.0, write=60.0)
"""An upload is hashed and stored before the API answers: give it minutes, not seconds."""
HISTORY_TIMEOUT = httpx.Timeout(10.0, read=120.0)
"""The first history question after many new plays brings the user's summaries up to date."""


@dataclass(frozen=True)
class AdminCredentials:
    """What the admin typed at the login: the API's ADMIN_USERNAME and ADMIN_PASSWORD."""

    username: str
    password: SecretStr = field(repr=False)


class ApiError(Exception):
    """The API refused a request; `message` is the API's own explanation."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


class ApiUnavailableError(ApiError):
    """The API could not be reached or answered with a server error."""


class ApiAuthenticationError(ApiError):
    """The API no longer accepts the session's credentials."""


class ApiNotFoundError(ApiError):
    """The API has no such thing (user, import, route)."""


class StatusCache:
    """The API's public status for a short while: it only changes when the API restarts."""

    def __init__(self, ttl_seconds: float = 30.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._value: dict[str, Any] | None = None
        self._expires = 0.0

    def get(self) -> dict[str, Any] | None:
        """The cached status, or None when there is none or it is too old."""
        if self._value is None or time.monotonic() >= self._expires:
            return None
        return dict(self._value)

    def put(self, value: dict[str, Any]) -> None:
        """Remember a status just read."""
        self._value = dict(value)
        self._expires = time.monotonic() + self.ttl_seconds


def _drop_empty(params: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (params or {}).items() if value not in (None, "")}


class AdminApiClient:
    """A thin async client of the API's admin, history and status endpoints.

    One instance owns the connection pool; `acting_for` gives a view of it that calls the
    API with one admin's credentials, which is how every page reaches its data.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
        credentials: AdminCredentials | None = None,
        client_address: str | None = None,
        status_cache: StatusCache | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout
        )
        self._status_cache = status_cache or StatusCache()
        self._headers = self.build_auth_headers(credentials)
        if client_address:
            # Believed by the API only when TRUSTED_PROXIES names the frontend: then its
            # per-client limits (failed logins above all) count each browser separately.
            self._headers["X-Forwarded-For"] = client_address

    def acting_for(
        self, credentials: AdminCredentials, *, client_address: str | None = None
    ) -> AdminApiClient:
        """A client sharing this one's connections that authenticates as `credentials`."""
        return AdminApiClient(
            "",
            http=self._http,
            credentials=credentials,
            client_address=client_address,
            status_cache=self._status_cache,
        )

    @staticmethod
    def build_auth_headers(credentials: AdminCredentials | None) -> dict[str, str]:
        """The Basic Authorization header for the admin API (none without credentials)."""
        if credentials is None:
            return {}
        pair = f"{credentials.username}:{credentials.password.get_secret_value()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: dict[str, Any] | None = None,
        patience: httpx.Timeout | None = None,
    ) -> httpx.Response:
        try:
            with ApiWaitTimer.call():
                response = await self._http.request(
                    method,
                    path,
                    params=_drop_empty(params),
                    json=json,
                    files=files,
                    headers=self._headers,
                    timeout=patience if patience is not None else httpx.USE_CLIENT_DEFAULT,
                )
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(
                502, "unavailable", f"the API is not reachable ({exc.__class__.__name__})"
            ) from exc
        if response.is_success:
            return response
        code, message = self._error_of(response)
        if response.status_code >= 500:
            raise ApiUnavailableError(response.status_code, code, message)
        if response.status_code == 401:
            raise ApiAuthenticationError(401, code, message)
        if response.status_code == 404:
            raise ApiNotFoundError(404, code, message)
        raise ApiError(response.status_code, code, message)

    @staticmethod
    def _error_of(response: httpx.Response) -> tuple[str, str]:
        """The code and message of the API's error envelope, or generic ones."""
        fallback = ("http_" + str(response.status_code), f"the API answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return fallback
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return fallback
        return str(error.get("code") or fallback[0]), str(error.get("message") or fallback[1])

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return (await self._send("GET", path, params=params)).json()

    # -- status and login -----------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """The API's public set-up status (is Spotify configured, where to log in), cached."""
        cached = self._status_cache.get()
        if cached is not None:
            return cached
        result: dict[str, Any] = await self._get("/status")
        self._status_cache.put(result)
        return result

    async def verify_credentials(self, credentials: AdminCredentials) -> bool:
        """True when the API accepts `credentials` as the admin's; False when it refuses them."""
        try:
            await self.acting_for(credentials)._get("/admin/users", {"limit": 1})
        except ApiAuthenticationError:
            return False
        return True

    # -- users ----------------------------------------------------------------------------

    async def list_users(self, **filters: Any) -> dict[str, Any]:
        """A page of users (filters: status, q, limit, offset)."""
        result: dict[str, Any] = await self._get("/admin/users", filters)
        return result

    async def get_user(self, user_id: int) -> dict[str, Any]:
        """One user with plays, token expiry and sync state."""
        result: dict[str, Any] = await self._get(f"/admin/users/{user_id}")
        return result

    async def user_action(self, user_id: int, action: str) -> dict[str, Any]:
        """POST /admin/users/{id}/{action}: pause, resume or trigger-sync."""
        result: dict[str, Any] = (
            await self._send("POST", f"/admin/users/{user_id}/{action}")
        ).json()
        return result

    async def delete_user(self, user_id: int) -> dict[str, Any]:
        """Delete a user and everything of theirs; returns what was removed."""
        result: dict[str, Any] = (await self._send("DELETE", f"/admin/users/{user_id}")).json()
        return result

    # -- tool tokens ----------------------------------------------------------------------

    async def list_tokens(self, user_id: int) -> list[dict[str, Any]]:
        """The user's tool tokens (never the tokens themselves)."""
        result: list[dict[str, Any]] = await self._get(f"/admin/users/{user_id}/tokens")
        return result

    async def create_token(self, user_id: int, name: str) -> dict[str, Any]:
        """Issue a tool token for the user; the answer holds the token, this once."""
        response = await self._send("POST", f"/admin/users/{user_id}/tokens", json={"name": name})
        result: dict[str, Any] = response.json()
        return result

    async def revoke_token(self, token_id: int) -> None:
        """Revoke a tool token."""
        await self._send("DELETE", f"/admin/tokens/{token_id}")

    # -- imports, jobs, sync status, logs -------------------------------------------------

    async def upload_import(
        self, user_id: int, filename: str, archive: IO[bytes]
    ) -> dict[str, Any]:
        """Upload a privacy-export ZIP for the user; returns the queued import."""
        response = await self._send(
            "POST",
            f"/admin/users/{user_id}/imports",
            files={"file": (filename, archive, "application/zip")},
            patience=UPLOAD_TIMEOUT,
        )
        result: dict[str, Any] = response.json()
        return result

    async def list_imports(self, **filters: Any) -> dict[str, Any]:
        """A page of imports, newest first (filters: user_id, status, limit, offset)."""
        result: dict[str, Any] = await self._get("/admin/imports", filters)
        return result

    async def get_import(self, import_id: int) -> dict[str, Any]:
        """One import with its progress."""
        result: dict[str, Any] = await self._get(f"/admin/imports/{import_id}")
        return result

    async def list_jobs(self, **filters: Any) -> dict[str, Any]:
        """A page of job runs (filters: user_id, job_type, status, limit, offset)."""
        result: dict[str, Any] = await self._get("/admin/jobs", filters)
        return result

    async def sync_status(self, **filters: Any) -> dict[str, Any]:
        """Each user's polling state and the user counts by status."""
        result: dict[str, Any] = await self._get("/admin/sync-status", filters)
        return result

    async def list_logs(self, **filters: Any) -> dict[str, Any]:
        """A page of stored log lines (service, level, user_id, request_id, text, since)."""
        result: dict[str, Any] = await self._get("/admin/logs", filters)
        return result

    async def purge_logs(self, before: str | None = None) -> int:
        """Delete log lines older than `before` (ISO 8601), or all; returns how many."""
        response = await self._send("DELETE", "/admin/logs", params={"before": before})
        return int(response.json()["deleted"])

    # -- history --------------------------------------------------------------------------

    async def history(self, user_id: int, question: str, **params: Any) -> dict[str, Any]:
        """GET /history/users/{id}/{question}, e.g. top-artists with days=30."""
        response = await self._send(
            "GET", f"/history/users/{user_id}/{question}", params=params, patience=HISTORY_TIMEOUT
        )
        result: dict[str, Any] = response.json()
        return result
