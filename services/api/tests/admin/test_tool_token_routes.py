"""Admin routes for tool tokens: create once, list without secrets, revoke, gone with the user."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tool_tokens import PREFIX_LENGTH, ToolTokenService, ToolTokenVerifier
from app.main import SpotifyMCPApp
from app.settings import AppSettings
from shared.db.models import ApiToken
from testkit.factories import create_user
from testkit.plugin import FreshDatabase

from .conftest import ADMIN

verifier = ToolTokenVerifier()


async def _create(client: httpx.AsyncClient, user_id: int, name: str = "laptop") -> httpx.Response:
    return await client.post(f"/admin/users/{user_id}/tokens", json={"name": name}, headers=ADMIN)


class TestCreateToken:
    async def test_answers_201_with_the_token_once_and_its_listing(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        response = await _create(client, user.id, " Claude desktop ")

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {
            "id",
            "name",
            "prefix",
            "scope",
            "user_id",
            "created_at",
            "last_used_at",
            "revoked_at",
            "active",
            "token",
        }
        assert (body["name"], body["scope"], body["user_id"]) == ("Claude desktop", "user", user.id)
        assert (body["active"], body["last_used_at"], body["revoked_at"]) == (True, None, None)
        assert body["prefix"] == body["token"][:PREFIX_LENGTH]
        assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
        row = await verifier.verify(db_session, body["token"])
        assert row is not None
        assert (row.id, row.user_id) == (body["id"], user.id)

    async def test_the_token_is_not_stored_anywhere_in_the_table(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        token = (await _create(client, user.id)).json()["token"]

        rows = await db_session.execute(text("SELECT * FROM api_tokens"))
        stored = [str(value) for row in rows for value in row]
        assert stored
        assert not any(token in value or token[PREFIX_LENGTH:] in value for value in stored)

    async def test_a_missing_user_is_a_404_in_the_error_envelope(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        response = await _create(client, 2**31 - 1)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert await db_session.scalar(select(func.count()).select_from(ApiToken)) == 0

    @pytest.mark.parametrize(
        "body",
        [
            "{}",
            '{"name": ""}',
            '{"name": "   "}',
            '{"name": "' + "x" * 256 + '"}',
            '{"name": "a\\u0000b"}',
            '{"name": 7}',
        ],
    )
    async def test_a_missing_or_unusable_name_is_a_422(
        self, client: httpx.AsyncClient, db_session: AsyncSession, body: str
    ) -> None:
        user = await create_user(db_session)

        response = await client.post(
            f"/admin/users/{user.id}/tokens",
            content=body,
            headers={**ADMIN, "Content-Type": "application/json"},
        )

        assert response.status_code == 422, response.text
        assert await db_session.scalar(select(func.count()).select_from(ApiToken)) == 0


class TestListTokens:
    async def test_lists_the_users_tokens_without_the_token_or_its_hash(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        created = [(await _create(client, user.id, name)).json() for name in ("a", "b")]
        hashes = [ToolTokenVerifier.hash(body["token"]) for body in created]

        response = await client.get(f"/admin/users/{user.id}/tokens", headers=ADMIN)

        assert response.status_code == 200
        listed = response.json()
        assert [item["id"] for item in listed] == [body["id"] for body in created]
        assert [item["prefix"] for item in listed] == [body["prefix"] for body in created]
        assert all("token" not in item for item in listed)
        for body, token_hash in zip(created, hashes, strict=True):
            assert body["token"] not in response.text
            assert body["token"][PREFIX_LENGTH:] not in response.text
            assert token_hash not in response.text

    async def test_shows_only_that_users_tokens(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        await _create(client, other.id)
        await ToolTokenService().create_admin_token(db_session, "admin")

        response = await client.get(f"/admin/users/{user.id}/tokens", headers=ADMIN)

        assert (response.status_code, response.json()) == (200, [])

    async def test_a_missing_user_is_a_404_in_the_error_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/admin/users/999999/tokens", headers=ADMIN)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestRevokeToken:
    async def test_answers_204_and_the_token_stops_working(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        created = (await _create(client, user.id)).json()

        response = await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)

        assert (response.status_code, response.content) == (204, b"")
        assert await verifier.verify(db_session, created["token"]) is None
        listed = (await client.get(f"/admin/users/{user.id}/tokens", headers=ADMIN)).json()
        assert listed[0]["active"] is False
        assert listed[0]["revoked_at"] is not None

    async def test_a_revoked_token_is_refused_where_tokens_are_accepted(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        created = (await _create(client, user.id)).json()
        bearer = {"Authorization": f"Bearer {created['token']}"}
        await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)

        response = await client.post("/auth/logout", headers=bearer)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_revoking_again_is_a_204_that_keeps_the_first_revocation(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        created = (await _create(client, user.id)).json()
        await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)
        listing = f"/admin/users/{user.id}/tokens"
        first = (await client.get(listing, headers=ADMIN)).json()[0]["revoked_at"]

        response = await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)

        assert response.status_code == 204
        assert (await client.get(listing, headers=ADMIN)).json()[0]["revoked_at"] == first

    async def test_an_unknown_token_is_a_404_in_the_error_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.delete("/admin/tokens/999999", headers=ADMIN)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    @pytest.mark.parametrize("token_id", ["0", "-1", str(2**31), "abc"])
    async def test_an_impossible_id_is_a_422(
        self, client: httpx.AsyncClient, token_id: str
    ) -> None:
        response = await client.delete(f"/admin/tokens/{token_id}", headers=ADMIN)

        assert response.status_code == 422


class TestSecrecy:
    async def test_no_log_record_of_create_list_use_or_revoke_holds_the_token(
        self,
        client: httpx.AsyncClient,
        db_session: AsyncSession,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        user = await create_user(db_session)
        created = (await _create(client, user.id)).json()
        token = created["token"]
        await client.get(f"/admin/users/{user.id}/tokens", headers=ADMIN)
        await client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
        await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)
        await client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})

        assert caplog.records
        for record in caplog.records:
            everything = repr(vars(record))
            assert token not in everything
            assert token[PREFIX_LENGTH:] not in everything


class TestUserDeletion:
    async def test_deleting_the_user_deletes_its_tokens_and_they_stop_working(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        other = await create_user(db_session)
        created = (await _create(client, user.id)).json()
        kept = (await _create(client, other.id)).json()

        response = await client.delete(f"/admin/users/{user.id}", headers=ADMIN)

        assert response.status_code == 200, response.text
        assert response.json()["api_tokens"] == 1
        db_session.expunge_all()
        assert list(await db_session.scalars(select(ApiToken.id))) == [kept["id"]]
        assert await verifier.verify(db_session, created["token"]) is None
        assert await verifier.verify(db_session, kept["token"]) is not None
        revoke = await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)
        assert revoke.status_code == 404


class TestIssuedTokensAtTheTools:
    async def test_a_token_reaches_only_its_users_tools_until_it_is_revoked(
        self, fresh_database: FreshDatabase, api_settings: AppSettings
    ) -> None:
        # Committed data and the app's own sessions, as in production.
        database = await fresh_database()
        async with database.session() as session:
            user, other = await create_user(session), await create_user(session)
        application = SpotifyMCPApp(api_settings, database=database)
        transport = httpx.ASGITransport(app=application.app)
        async with httpx.AsyncClient(
            transport=transport, base_url=api_settings.public_base_url
        ) as client:
            created = (await _create(client, user.id)).json()
            bearer = {"Authorization": f"Bearer {created['token']}"}

            own = await client.post(
                "/mcp/call", json={"tool": "history.top_tracks", "args": {}}, headers=bearer
            )
            others = await client.post(
                "/mcp/call",
                json={"tool": "history.top_tracks", "args": {"user_id": other.id}},
                headers=bearer,
            )
            await client.delete(f"/admin/tokens/{created['id']}", headers=ADMIN)
            revoked = await client.post(
                "/mcp/call", json={"tool": "history.top_tracks", "args": {}}, headers=bearer
            )

        assert own.status_code == 200, own.text
        assert own.json()["result"]["user_id"] == user.id
        assert others.status_code == 403
        assert revoked.status_code == 401
