"""The OAuth login against the fake Spotify over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.router import NONCE_COOKIE
from app.auth.service import SCOPES
from app.auth.tool_tokens import ToolTokenVerifier
from app.main import SpotifyMCPApp
from fake_spotify import FakeSpotifyServer
from shared.crypto import TokenEncryptor
from shared.db.enums import TokenScope, UserStatus
from shared.db.models import ApiToken, OAuthState, SpotifyToken, SyncCheckpoint, User
from shared.spotify import SpotifyClient, StaticTokenProvider
from testkit.factories import create_user
from testkit.plugin import FreshDatabase

from .conftest import API_BASE_URL, build_settings


async def _authorise_at_spotify(
    fake: FakeSpotifyServer, authorize_url: str, user_id: str = "demo"
) -> str:
    """What the browser does at Spotify: returns the callback URL Spotify redirects to."""
    fake.state.switches.auto_approve_user_id = user_id
    async with httpx.AsyncClient() as browser:
        response = await browser.get(authorize_url)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def _login(client: httpx.AsyncClient, fake: FakeSpotifyServer) -> httpx.Response:
    start = await client.get("/auth/login")
    assert start.status_code == 303
    callback = await _authorise_at_spotify(fake, start.headers["location"])
    return await client.get(callback)


class TestLogin:
    async def test_login_redirects_to_spotify_with_the_scopes_and_a_bound_state(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer
    ) -> None:
        response = await client.get("/auth/login")
        assert response.status_code == 303
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}" == fake_spotify.accounts_url
        assert location.path == "/authorize"
        query = parse_qs(location.query)
        assert set(query["scope"][0].split()) == set(SCOPES)
        assert query["response_type"] == ["code"]
        nonce = client.cookies.get(NONCE_COOKIE)
        assert nonce
        assert query["state"][0].startswith(f"{nonce}.")
        cookie_header = response.headers["set-cookie"].lower()
        assert "httponly" in cookie_header
        assert "samesite=lax" in cookie_header


class TestCallback:
    async def test_success_stores_user_encrypted_tokens_and_checkpoint(
        self,
        api: SpotifyMCPApp,
        client: httpx.AsyncClient,
        fake_spotify: FakeSpotifyServer,
        db_session: AsyncSession,
        spotify_client: SpotifyClient,
    ) -> None:
        response = await _login(client, fake_spotify)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
        assert "Connected: Demo Listener" in response.text
        assert "privacy" in response.text  # says what to do next

        user = await db_session.scalar(select(User).where(User.spotify_user_id == "demo"))
        assert user is not None
        assert user.status is UserStatus.ACTIVE
        assert await db_session.get(SyncCheckpoint, user.id) is not None
        token = await db_session.scalar(select(SpotifyToken).where(SpotifyToken.user_id == user.id))
        assert token is not None

        encryptor = TokenEncryptor.from_settings(api.settings)
        access = encryptor.decrypt(token.access_token_encrypted)
        refresh = encryptor.decrypt(token.refresh_token_encrypted)
        profile = await spotify_client.get_current_user(
            StaticTokenProvider.from_pair(
                spotify_client, access_token=access, refresh_token=refresh
            )
        )
        assert profile.id == "demo"  # the stored tokens are the ones Spotify issued
        raw = (
            await db_session.execute(
                text("SELECT * FROM spotify_tokens WHERE user_id = :id"), {"id": user.id}
            )
        ).one()
        assert not any(secret in str(value) for value in raw for secret in (access, refresh))

    async def test_replayed_state_is_refused(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer
    ) -> None:
        start = await client.get("/auth/login")
        callback = await _authorise_at_spotify(fake_spotify, start.headers["location"])
        assert (await client.get(callback)).status_code == 200
        state = parse_qs(urlsplit(callback).query)["state"][0]
        client.cookies.set(NONCE_COOKIE, state.partition(".")[0])
        replay = await client.get(callback)
        assert replay.status_code == 400
        assert "not valid" in replay.text or "already used" in replay.text

    async def test_state_from_another_browser_is_refused(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer
    ) -> None:
        start = await client.get("/auth/login")
        callback = await _authorise_at_spotify(fake_spotify, start.headers["location"])
        client.cookies.clear()
        response = await client.get(callback)
        assert response.status_code == 400
        assert "another browser" in response.text

    async def test_forged_state_is_refused(self, client: httpx.AsyncClient) -> None:
        await client.get("/auth/login")
        nonce = client.cookies.get(NONCE_COOKIE)
        response = await client.get(f"/auth/callback?code=x&state={nonce}.forged")
        assert response.status_code == 400
        assert "not valid" in response.text

    async def test_expired_state_is_refused(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer, db_session: AsyncSession
    ) -> None:
        start = await client.get("/auth/login")
        callback = await _authorise_at_spotify(fake_spotify, start.headers["location"])
        await db_session.execute(
            text("UPDATE oauth_states SET expires_at = created_at WHERE used_at IS NULL")
        )
        response = await client.get(callback)
        assert response.status_code == 400
        assert "expired" in response.text

    async def test_declined_access_says_nothing_was_stored(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        await client.get("/auth/login")
        response = await client.get("/auth/callback?error=access_denied&state=whatever")
        assert response.status_code == 400
        assert "Nothing was stored" in response.text
        assert await db_session.scalar(select(User).where(User.spotify_user_id == "demo")) is None

    async def test_a_code_spotify_refuses_gets_a_clear_page(
        self, client: httpx.AsyncClient
    ) -> None:
        start = await client.get("/auth/login")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        response = await client.get(f"/auth/callback?code=not-a-real-code&state={state}")
        assert response.status_code == 400
        assert "refused" in response.text

    async def test_spotify_down_gets_a_clear_page(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer
    ) -> None:
        start = await client.get("/auth/login")
        callback = await _authorise_at_spotify(fake_spotify, start.headers["location"])
        fake_spotify.state.inject_failures(503, count=None, target="accounts")
        response = await client.get(callback)
        assert response.status_code == 502
        assert "could not be reached" in response.text

    async def test_reauthorising_makes_a_reauth_required_user_active(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer, db_session: AsyncSession
    ) -> None:
        user = await create_user(
            db_session,
            spotify_user_id="demo",
            status=UserStatus.REAUTH_REQUIRED,
            status_reason="refresh token revoked",
        )
        response = await _login(client, fake_spotify)
        assert response.status_code == 200
        await db_session.refresh(user)
        assert user.status is UserStatus.ACTIVE
        assert user.status_reason is None


class TestTransactions:
    async def test_login_commits_through_the_real_request_session(
        self, fresh_database: FreshDatabase, fake_spotify: FakeSpotifyServer
    ) -> None:
        database = await fresh_database()
        app = SpotifyMCPApp(build_settings(fake_spotify), database=database).app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=API_BASE_URL
        ) as browser:
            response = await _login(browser, fake_spotify)
        assert response.status_code == 200
        async with database.session() as session:
            user = await session.scalar(select(User).where(User.spotify_user_id == "demo"))
            assert user is not None
            assert await session.scalar(
                select(SpotifyToken.id).where(SpotifyToken.user_id == user.id)
            )
            assert await session.scalar(select(OAuthState.used_at)) is not None


ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


async def _user_token(session: AsyncSession, user: User) -> str:
    token = f"user-token-{user.id}-0123456789abcdef"
    session.add(
        ApiToken(
            name="test",
            token_hash=ToolTokenVerifier.hash(token),
            token_prefix=token[:8],
            scope=TokenScope.USER,
            user_id=user.id,
        )
    )
    await session.flush()
    return token


class TestLogout:
    async def test_admin_logout_deletes_tokens_and_pauses(
        self, client: httpx.AsyncClient, fake_spotify: FakeSpotifyServer, db_session: AsyncSession
    ) -> None:
        await _login(client, fake_spotify)
        user = await db_session.scalar(select(User).where(User.spotify_user_id == "demo"))
        assert user is not None
        response = await client.post(f"/auth/logout?user_id={user.id}", headers=ADMIN)
        assert response.status_code == 200
        assert response.json() == {"user_id": user.id, "status": "paused"}
        await db_session.refresh(user)
        assert user.status is UserStatus.PAUSED
        assert (
            await db_session.scalar(select(SpotifyToken).where(SpotifyToken.user_id == user.id))
            is None
        )

        again = await _login(client, fake_spotify)
        assert again.status_code == 200
        await db_session.refresh(user)
        assert user.status.value == "active"  # refreshed from the row

    async def test_a_user_token_logs_out_its_own_user_only(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        me = await create_user(db_session)
        other = await create_user(db_session)
        token = {"Authorization": f"Bearer {await _user_token(db_session, me)}"}
        refused = await client.post(f"/auth/logout?user_id={other.id}", headers=token)
        assert refused.status_code == 403
        done = await client.post("/auth/logout", headers=token)
        assert done.status_code == 200
        assert done.json()["user_id"] == me.id

    async def test_without_credentials_is_401(self, client: httpx.AsyncClient) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await client.post("/auth/logout?user_id=1", headers=headers)
            assert response.status_code == 401
            assert "WWW-Authenticate" in response.headers

    async def test_admin_must_name_the_user(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/auth/logout", headers=ADMIN)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "user_required"

    async def test_unknown_user_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/auth/logout?user_id=999999", headers=ADMIN)
        assert response.status_code == 404
