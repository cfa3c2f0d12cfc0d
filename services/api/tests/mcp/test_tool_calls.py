"""`GET /mcp/tools` and `POST /mcp/call`: the answers, the errors and who may ask what."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import SpotifyMCPApp
from app.mcp.registry import MAX_OUTPUT_CHARS
from shared.db.enums import JobStatus, JobType
from shared.db.models import ApiToken
from testkit.factories import create_import_job, create_job_run

from .conftest import ADMIN, OTHER_TOKEN, USER_TOKEN, Library, call

ORIGINAL_TOOLS = {
    "history.taste_summary",
    "history.top_artists",
    "history.top_tracks",
    "history.listening_heatmap",
    "history.repeat_rate",
    "history.coverage",
    "ops.sync_status",
    "ops.latest_job_runs",
    "ops.latest_import_jobs",
    "spotify.get_top",
    "spotify.search",
}
ADDED_TOOLS = {"ops.list_users", "spotify.create_playlist"}


class TestToolList:
    async def test_lists_every_original_tool_with_schemas_and_annotations(
        self, tools: httpx.AsyncClient
    ) -> None:
        response = await tools.get("/mcp/tools", headers=ADMIN)
        assert response.status_code == 200
        listed = {tool["name"]: tool for tool in response.json()["tools"]}
        assert set(listed) >= ORIGINAL_TOOLS | ADDED_TOOLS
        for tool in listed.values():
            assert tool["description"]
            assert tool["input_schema"]["type"] == "object"
            assert tool["output_schema"]["type"] == "object"
            assert set(tool["annotations"]) == {
                "read_only",
                "destructive",
                "idempotent",
                "open_world",
            }
        assert listed["spotify.create_playlist"]["annotations"]["read_only"] is False
        assert listed["history.top_artists"]["annotations"]["open_world"] is False
        assert listed["spotify.search"]["annotations"]["open_world"] is True

    async def test_every_list_length_argument_is_bounded(self, tools: httpx.AsyncClient) -> None:
        response = await tools.get("/mcp/tools", headers=ADMIN)
        for tool in response.json()["tools"]:
            for name, spec in tool["input_schema"]["properties"].items():
                assert spec.get("description"), f"{tool['name']}.{name} has no description"
                if name in {"limit", "gaps", "days", "user_id"}:
                    assert "maximum" in spec or any(
                        "maximum" in option for option in spec.get("anyOf", [])
                    ), f"{tool['name']}.{name} is unbounded"

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}])
    async def test_listing_needs_a_valid_token(
        self, tools: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await tools.get("/mcp/tools", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestHistoryAnswers:
    async def test_top_artists_credit_featured_artists(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(tools, "history.top_artists", {"user_id": library.listener.id})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        assert body["error"] is None
        artists = [(a["name"], a["plays"], a["minutes"]) for a in body["result"]["artists"]]
        assert artists == [("Alpha", 3, 7.0), ("Beta", 2, 3.0)]

    async def test_top_artists_primary_only(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools,
            "history.top_artists",
            {"user_id": library.listener.id, "primary_only": True},
        )
        artists = [(a["name"], a["plays"]) for a in response.json()["result"]["artists"]]
        assert artists == [("Alpha", 3), ("Beta", 1)]

    async def test_top_tracks_in_a_window(self, tools: httpx.AsyncClient, library: Library) -> None:
        response = await call(
            tools,
            "history.top_tracks",
            {"user_id": library.listener.id, "start": "2024-03-05", "end": "2024-03-31"},
        )
        tracks = [(t["name"], t["plays"]) for t in response.json()["result"]["tracks"]]
        assert tracks == [("Two", 1), ("Three", 1)]

    async def test_heatmap_in_local_time_and_in_an_asked_zone(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        local = await call(tools, "history.listening_heatmap", {"user_id": library.listener.id})
        counts = local.json()["result"]["counts"]
        assert counts[0][9] == 2  # Monday 09:00 in Stockholm
        assert counts[1][19] == 1  # Tuesday 19:30
        assert counts[2][0] == 1  # Three ended at 00:30 on Wednesday, local time
        assert sum(map(sum, counts)) == 4
        utc = await call(
            tools, "history.listening_heatmap", {"user_id": library.listener.id, "tz": "UTC"}
        )
        assert utc.json()["result"]["counts"][1][23] == 1  # still Tuesday in UTC

    async def test_episodes_only_on_request(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools,
            "history.listening_heatmap",
            {"user_id": library.listener.id, "include_episodes": True},
        )
        counts = response.json()["result"]["counts"]
        assert counts[1][8] == 1  # the episode, Tuesday 08:00 local
        assert sum(map(sum, counts)) == 5

    async def test_min_ms_is_configurable_per_call(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools, "history.top_tracks", {"user_id": library.listener.id, "min_ms": 0}
        )
        plays = {t["name"]: t["plays"] for t in response.json()["result"]["tracks"]}
        assert plays == {"One": 2, "Two": 2, "Three": 1}

    async def test_every_history_tool_answers_within_the_output_cap(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        listed = (await tools.get("/mcp/tools", headers=ADMIN)).json()["tools"]
        history_tools = [t["name"] for t in listed if t["name"].startswith("history.")]
        assert len(history_tools) >= 6
        for name in history_tools:
            args: dict[str, object] = {"user_id": library.listener.id, "limit": 100}
            if name == "history.first_listen":
                args = {"user_id": library.listener.id, "artist": "Alpha"}
            elif name in {"history.listening_heatmap", "history.listening_time"}:
                args = {"user_id": library.listener.id}
            elif name in {"history.taste_summary"}:
                args["limit"] = 20
            elif name == "history.compare_periods":
                args = {**args, "a_days": 30}
            elif name == "history.coverage":
                args = {"user_id": library.listener.id, "gaps": 20}
            required = set(
                next(t for t in listed if t["name"] == name)["input_schema"].get("required", [])
            )
            if required - {"user_id"}:
                continue  # tools with required arguments have their own tests
            response = await call(tools, name, args)
            assert response.status_code == 200, (name, response.text)
            assert len(json.dumps(response.json())) < MAX_OUTPUT_CHARS


class TestMoreHistoryAnswers:
    async def test_play_history_pages_newest_first(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        user = {"user_id": library.listener.id, "limit": 2}
        first = (await call(tools, "history.play_history", user)).json()["result"]
        assert [p["track_name"] for p in first["plays"]] == ["Three", "Two"]
        assert first["plays"][0]["played_at_local"].startswith("2024-03-06T00:30:00+01:00")
        cursor = first["next_cursor"]
        assert cursor
        second = await call(tools, "history.play_history", {**user, "cursor": cursor})
        assert [p["track_name"] for p in second.json()["result"]["plays"]] == ["One", "One"]
        filtered = await call(
            tools, "history.play_history", {"user_id": library.listener.id, "artist": "beta"}
        )
        assert [p["track_name"] for p in filtered.json()["result"]["plays"]] == ["Three", "Two"]

    async def test_first_listen_of_an_artist(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools, "history.first_listen", {"user_id": library.listener.id, "artist": "Beta"}
        )
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["subject"]["name"] == "Beta"
        assert result["first_play"]["track_name"] == "Two"
        assert result["first_play"]["played_at"].startswith("2024-03-05T18:30")
        assert result["plays"] == 2

    async def test_first_listen_of_something_never_heard(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools, "history.first_listen", {"user_id": library.listener.id, "artist": "Gamma"}
        )
        assert response.status_code == 404

    async def test_discoveries_in_a_window(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools,
            "history.discoveries",
            {"user_id": library.listener.id, "start": "2024-03-05", "end": "2024-03-31"},
        )
        result = response.json()["result"]
        assert [a["name"] for a in result["artists"]] == ["Beta"]
        assert {t["name"] for t in result["tracks"]} == {"Two", "Three"}
        assert (result["new_artists"], result["new_tracks"]) == (1, 2)

    async def test_compare_periods(self, tools: httpx.AsyncClient, library: Library) -> None:
        response = await call(
            tools,
            "history.compare_periods",
            {
                "user_id": library.listener.id,
                "a_start": "2024-03-05",
                "a_end": "2024-03-31",
                "b_start": "2024-03-01",
                "b_end": "2024-03-04",
            },
        )
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert (result["period_a"]["plays"], result["period_a"]["minutes"]) == (2, 3.0)
        assert (result["period_b"]["plays"], result["period_b"]["minutes"]) == (2, 5.0)

    async def test_listening_time_per_local_day(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools,
            "history.listening_time",
            {
                "user_id": library.listener.id,
                "start": "2024-03-04",
                "end": "2024-03-06",
                "bucket": "day",
            },
        )
        buckets = response.json()["result"]["buckets"]
        assert [(b["plays"], b["minutes"]) for b in buckets] == [(2, 5.0), (1, 2.0), (1, 1.0)]


class TestOpsAnswers:
    async def test_sync_status_job_runs_and_imports(
        self, tools: httpx.AsyncClient, library: Library, db_session: AsyncSession
    ) -> None:
        user_id = library.listener.id
        await create_job_run(
            db_session, user_id=user_id, job_type=JobType.POLL, status=JobStatus.SUCCEEDED
        )
        await create_job_run(
            db_session, user_id=library.other.id, job_type=JobType.POLL, status=JobStatus.FAILED
        )
        await create_import_job(db_session, user=library.listener)

        status = await call(tools, "ops.sync_status", {"user_id": user_id})
        result = status.json()["result"]
        assert result["user"]["plays"]["count"] == 6
        assert result["needs_reauthorisation"] is False

        runs = (await call(tools, "ops.latest_job_runs", {"user_id": user_id})).json()["result"]
        assert runs["total"] == 1
        assert runs["items"][0]["status"] == "succeeded"

        imports = await call(tools, "ops.latest_import_jobs", {"user_id": user_id})
        assert imports.json()["result"]["total"] == 1

    async def test_list_users_for_the_admin_and_for_a_user_token(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        everyone = (await call(tools, "ops.list_users", {})).json()["result"]
        names = {user["display_name"] for user in everyone["users"]}
        assert {"Listener", "Other"} <= names
        own = (await call(tools, "ops.list_users", {}, token=USER_TOKEN)).json()["result"]
        assert [user["display_name"] for user in own["users"]] == ["Listener"]


class TestErrors:
    async def test_unknown_tool(self, tools: httpx.AsyncClient, library: Library) -> None:
        response = await call(tools, "history.top_genres", {"user_id": library.listener.id})
        assert response.status_code == 404
        body = response.json()
        assert body["success"] is False
        assert body["tool"] == "history.top_genres"
        assert body["error"]["code"] == "unknown_tool"
        assert "history.top_artists" in body["error"]["message"]

    @pytest.mark.parametrize(
        ("args", "fragment"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"days": "many"}, "days"),
            ({"colour": "blue"}, "colour"),
            ({"tz": "Mars/Olympus"}, "Mars/Olympus"),
            ({"days": 7, "start": "2024-01-01"}, "days"),
        ],
    )
    async def test_invalid_arguments_are_named(
        self, tools: httpx.AsyncClient, library: Library, args: dict[str, object], fragment: str
    ) -> None:
        response = await call(
            tools, "history.top_artists", {"user_id": library.listener.id, **args}
        )
        assert response.status_code in {400, 422}, response.text
        body = response.json()
        assert body["success"] is False
        assert body["error"]["code"].startswith("invalid_")
        assert fragment in body["error"]["message"]

    async def test_admin_must_say_which_user(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(tools, "history.top_artists", {})
        assert response.status_code == 422
        assert "user_id" in response.json()["error"]["message"]

    async def test_unknown_user(self, tools: httpx.AsyncClient, library: Library) -> None:
        response = await call(tools, "history.top_artists", {"user_id": 999_999})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
    async def test_call_needs_a_valid_token(
        self, tools: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await tools.post(
            "/mcp/call", json={"tool": "ops.list_users", "args": {}}, headers=headers
        )
        assert response.status_code == 401
        assert "Bearer" in response.headers["www-authenticate"]


class TestUserTokens:
    async def test_user_token_defaults_to_its_user(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(tools, "history.top_tracks", {}, token=USER_TOKEN)
        assert response.status_code == 200, response.text
        assert response.json()["result"]["user_id"] == library.listener.id

    async def test_user_token_is_refused_another_user(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await call(
            tools, "history.top_tracks", {"user_id": library.listener.id}, token=OTHER_TOKEN
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert "Listener" not in response.text

    async def test_use_is_recorded(
        self, tools: httpx.AsyncClient, library: Library, db_session: AsyncSession
    ) -> None:
        await call(tools, "ops.sync_status", {}, token=USER_TOKEN)
        used = await db_session.scalar(
            select(ApiToken.last_used_at).where(ApiToken.user_id == library.listener.id)
        )
        assert used is not None

    async def test_use_is_recorded_to_the_minute_not_on_every_call(
        self, tools: httpx.AsyncClient, library: Library, db_session: AsyncSession
    ) -> None:
        token = await db_session.scalar(
            select(ApiToken).where(ApiToken.user_id == library.listener.id)
        )
        assert token is not None
        earlier = datetime.now(UTC) - timedelta(seconds=30)
        token.last_used_at = earlier
        await db_session.flush()
        await call(tools, "ops.sync_status", {}, token=USER_TOKEN)
        await db_session.refresh(token)
        assert token.last_used_at == earlier
        token.last_used_at = datetime.now(UTC) - timedelta(minutes=2)
        await db_session.flush()
        await call(tools, "ops.sync_status", {}, token=USER_TOKEN)
        await db_session.refresh(token)
        assert token.last_used_at is not None
        assert token.last_used_at > datetime.now(UTC) - timedelta(seconds=30)

    async def test_revoked_token_is_refused(
        self, tools: httpx.AsyncClient, library: Library, db_session: AsyncSession
    ) -> None:
        token = await db_session.scalar(
            select(ApiToken).where(ApiToken.user_id == library.listener.id)
        )
        assert token is not None
        response = await tools.delete(f"/admin/tokens/{token.id}", headers=ADMIN)
        assert response.status_code == 204
        refused = await call(tools, "history.top_tracks", {}, token=USER_TOKEN)
        assert refused.status_code == 401


class TestRegistry:
    def test_tool_names_are_unique_and_registered_once(self, tool_api: SpotifyMCPApp) -> None:
        names = [tool.name for tool in tool_api.tools]
        assert len(names) == len(set(names))
        first = next(iter(tool_api.tools))
        with pytest.raises(ValueError, match="registered twice"):
            tool_api.tools.add(
                name=first.name,
                title=first.title,
                description=first.description,
                args=first.args_model,
                output=first.output_model,
                handler=first.handler,
                annotations=first.annotations,
            )


class TestHostileBodies:
    async def test_a_lone_surrogate_is_a_validation_error_not_a_crash(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        for body in ('{"tool": "\\ud800"}', '{"tool": "ops.list_users", "args": {"\\ud800": 1}}'):
            response = await tools.post(
                "/mcp/call", content=body, headers={**ADMIN, "Content-Type": "application/json"}
            )
            assert response.status_code in {404, 422}, body
        response = await tools.post(
            "/admin/users/1/tokens",
            content='{"name": "\\ud800"}',
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert response.status_code in {404, 422}
