"""`AdminApiClient`: the frontend's only way to data is the API over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr


class ApiUnavailableError(Exception):
    """The API could not be reached or answered with a server error."""


class AdminApiClient:
    """A thin async client of the API's admin and status endpoints."""

    def __init__(
        self,
        base_url: str,
        admin_token: SecretStr | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=self.build_auth_headers(admin_token),
            transport=transport,
            timeout=timeout,
        )

    @staticmethod
    def build_auth_headers(admin_token: SecretStr | None) -> dict[str, str]:
        """The Authorization header for the admin API (none without a token)."""
        if admin_token is None or not admin_token.get_secret_value():
            return {}
        return {"Authorization": f"Bearer {admin_token.get_secret_value()}"}

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON document, raising `ApiUnavailableError` on network or 5xx errors."""
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(
                f"the API is not reachable ({exc.__class__.__name__})"
            ) from exc
        if response.status_code >= 500:
            raise ApiUnavailableError(f"the API answered {response.status_code}")
        response.raise_for_status()
        return response.json()

    async def status(self) -> dict[str, Any]:
        """The API's public set-up status (is Spotify configured, where to log in)."""
        result: dict[str, Any] = await self.get_json("/status")
        return result

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
