"""Property-based requests generated from the API's own OpenAPI find no server error."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from app.main import SpotifyMCPApp
from fake_spotify import FakeSpotifyServer
from fake_spotify.server import BackgroundServer
from shared.db.manager import DatabaseManager
from testkit.factories import create_play, create_track, create_user
from testkit.plugin import FreshDatabase

from .conftest import build_settings

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}
EXAMPLES_PER_OPERATION = 25


async def _seed(database: DatabaseManager) -> None:
    async with database.session() as session:
        user = await create_user(session, timezone="Europe/Stockholm")
        track = await create_track(session)
        await create_play(session, user=user, track=track)


@pytest.fixture
async def live_api(
    fresh_database: FreshDatabase, fake_spotify: FakeSpotifyServer
) -> BackgroundServer:
    """The API on its own fresh database, over real HTTP, with one user and one play."""
    database = await fresh_database()
    await _seed(database)
    await database.dispose()  # the server's own event loop opens the connections it uses
    # A generous limit: the fuzzer is one client hammering /auth/*.
    settings = build_settings(fake_spotify, auth_rate_limit="100000/minute")
    return BackgroundServer(
        SpotifyMCPApp(settings, database=database, owns_database=False).app, name="api"
    )


def test_no_operation_answers_with_a_server_error(live_api: BackgroundServer) -> None:
    with live_api as server:
        schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 5
        failures: list[str] = []
        for operation in operations:
            strategy = operation.as_strategy(headers=ADMIN)

            @hypothesis.settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy, anonymous=st.booleans())
            def exercise(case: Any, anonymous: bool) -> None:
                if anonymous:
                    case.headers.clear()
                response = case.call(base_url=server.base_url, timeout=15)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]}"
                    )

            exercise()
        assert failures == []
