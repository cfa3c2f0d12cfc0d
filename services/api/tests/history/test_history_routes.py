"""The history routes' numbers, counted by hand from the month in conftest.py, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.history.schemas import PlayFilter
from app.history.service import HistoryService
from testkit.factories import create_play, create_track, create_user

from .conftest import ADMIN, MARCH, Listening, utc

ENDPOINTS = [
    "top-artists",
    "top-tracks",
    "heatmap",
    "repeat-rate",
    "coverage",
    "taste-summary",
    "plays",
    "first-listen?artist=Alpha",
    "discoveries",
    "compare-periods?a_days=7",
    "listening-time",
]


async def get(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    """GET as admin and return the JSON body of a 200."""
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cells(body: dict[str, Any]) -> dict[tuple[int, int], int]:
    """The non-empty (weekday, hour) cells of a heatmap."""
    return {
        (weekday, hour): n
        for weekday, row in enumerate(body["counts"])
        for hour, n in enumerate(row)
        if n
    }


class TestTopArtists:
    async def test_every_credited_artist_gets_the_play(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("top-artists"), **MARCH)

        assert [(a["name"], a["plays"], a["minutes"]) for a in body["artists"]] == [
            ("Alpha", 5, 14.0),
            ("Beta", 5, 9.0),
        ]
        assert body["primary_only"] is False
        assert body["window"] == {
            "start": "2024-02-29T23:00:00Z",
            "end": "2024-03-31T22:00:00Z",
            "timezone": "Europe/Stockholm",
            "include_episodes": False,
            "min_ms": 30_000,
        }

    async def test_primary_only_leaves_out_featured_artists(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("top-artists"), primary_only="true", **MARCH)

        assert [(a["name"], a["plays"], a["minutes"]) for a in body["artists"]] == [
            ("Alpha", 5, 14.0),
            ("Beta", 3, 3.0),
        ]

    async def test_limit_cuts_the_list(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("top-artists"), limit=1, **MARCH)

        assert [a["artist_id"] for a in body["artists"]] == [listening.alpha.id]


class TestTopTracks:
    async def test_tracks_by_plays_then_minutes_with_artists_in_credit_order(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("top-tracks"), **MARCH)

        assert [
            (t["name"], t["artists"], t["album_name"], t["plays"], t["minutes"])
            for t in body["tracks"]
        ] == [
            ("One", ["Alpha"], "First", 3, 8.0),
            ("Three", ["Beta"], "Third", 3, 3.0),
            ("Two", ["Alpha", "Beta"], "Second", 2, 6.0),
        ]

    async def test_a_play_counts_from_thirty_seconds(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        # Three's 30 000 ms play counts, Two's 29 999 ms play does not ...
        default = await get(client, listening.url("top-tracks"), **MARCH)
        assert {t["name"]: t["plays"] for t in default["tracks"]} == {
            "One": 3,
            "Three": 3,
            "Two": 2,
        }
        # ... unless the threshold is lowered.
        everything = await get(client, listening.url("top-tracks"), min_ms=0, **MARCH)
        assert [(t["name"], t["plays"], t["minutes"]) for t in everything["tracks"]] == [
            ("One", 3, 8.0),
            ("Two", 3, 6.5),
            ("Three", 3, 3.0),
        ]

    async def test_episodes_only_on_request(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        default = await get(client, listening.url("top-tracks"), **MARCH)
        assert listening.pod.id not in [t["track_id"] for t in default["tracks"]]

        body = await get(client, listening.url("top-tracks"), include_episodes="true", **MARCH)

        assert body["window"]["include_episodes"] is True
        assert body["tracks"][-1] == {
            "track_id": listening.pod.id,
            "name": "Pod",
            "kind": "episode",
            "album_name": None,
            "artists": [],
            "plays": 1,
            "minutes": 30.0,
        }


class TestHeatmap:
    async def test_local_weekday_and_hour_across_the_spring_dst_change(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("heatmap"), **MARCH)

        assert cells(body) == {
            (0, 9): 2,  # Monday 09:00 and 09:05
            (1, 19): 1,
            (2, 0): 1,  # 23:30 UTC on Tuesday is Wednesday 00:30 in Stockholm
            (4, 0): 1,  # 23:30 UTC on 29 February is Friday 1 March 00:30
            (6, 1): 1,  # 00:30 UTC on 31 March, still CET
            (6, 3): 1,  # 01:30 UTC, already CEST: 02:xx does not exist that night
            (6, 23): 1,
        }
        assert body["total_plays"] == 8
        assert body["peak"] == {"weekday": 0, "hour": 9, "plays": 2}
        assert body["weekdays"][0] == "Monday"
        assert [len(row) for row in body["counts"]] == [24] * 7

    async def test_tz_overrides_the_users_zone_for_hours_and_day_boundaries(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("heatmap"), tz="UTC", **MARCH)

        # In UTC, March starts after the 29 February play and ends after the 22:30 one.
        assert cells(body) == {
            (0, 8): 2,
            (1, 18): 1,
            (1, 23): 1,
            (6, 0): 1,
            (6, 1): 1,
            (6, 21): 1,
            (6, 22): 1,
        }
        assert body["window"]["timezone"] == "UTC"

    async def test_the_autumn_dst_change_puts_both_2_30s_in_hour_2(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, timezone="Europe/Stockholm")
        track = await create_track(db_session)
        # 2024-10-27: 00:30 UTC is 02:30 CEST, 01:30 UTC is 02:30 CET once more.
        for ended in ("2024-10-27 00:30", "2024-10-27 01:30", "2024-10-27 02:30"):
            await create_play(db_session, user=user, track=track, played_at=utc(ended))

        body = await get(client, f"/history/users/{user.id}/heatmap", start="2024-10-27")

        assert cells(body) == {(6, 2): 2, (6, 3): 1}

    async def test_a_half_hour_zone(self, client: httpx.AsyncClient, listening: Listening) -> None:
        body = await get(client, listening.url("heatmap"), tz="Asia/Kolkata", **MARCH)

        # 08:00 and 08:05 UTC on Monday 4 March are 13:30 and 13:35 in India (UTC+5:30).
        assert cells(body)[(0, 13)] == 2


class TestRepeatRate:
    async def test_share_of_plays_repeating_a_track_and_the_top_repeats(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("repeat-rate"), **MARCH)

        assert (body["total_plays"], body["distinct_tracks"], body["repeat_plays"]) == (8, 3, 5)
        assert body["repeat_rate"] == 0.625
        assert [(t["name"], t["plays"], t["repeats"]) for t in body["top_repeated"]] == [
            ("One", 3, 2),
            ("Three", 3, 2),
            ("Two", 2, 1),
        ]


class TestCoverage:
    async def test_extent_sources_days_and_gaps(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("coverage"), gaps=3, **MARCH)

        assert body["total_plays"] == 8
        assert body["first_play"] == "2024-02-29T23:30:00Z"
        assert body["last_play"] == "2024-03-31T21:30:00Z"
        assert body["plays_by_source"] == {"api": 5, "extended_export": 2, "account_export": 1}
        # Local dates 1, 4, 5, 6 and 31 March, out of the 31 days of March.
        assert (body["days_with_plays"], body["days_in_range"]) == (5, 31)
        assert body["day_coverage"] == 0.1613
        assert body["largest_gaps"] == [
            {"after": "2024-03-05T23:30:00Z", "before": "2024-03-31T00:30:00Z", "hours": 601.0},
            {"after": "2024-02-29T23:30:00Z", "before": "2024-03-04T08:00:00Z", "hours": 80.5},
            {"after": "2024-03-04T08:05:00Z", "before": "2024-03-05T18:30:00Z", "hours": 34.4},
        ]

    async def test_without_a_window_the_range_runs_from_the_first_play_to_today(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("coverage"), min_ms=0, include_episodes="true")

        assert body["total_plays"] == 12
        assert body["first_play"] == "2024-02-29T22:30:00Z"
        today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Stockholm")).date()
        assert body["days_in_range"] == (today - date(2024, 2, 29)).days + 1
        # Local dates 29 Feb, 1, 4, 5, 6, 10, 12, 31 March and 1 April.
        assert body["days_with_plays"] == 9

    async def test_a_user_without_plays(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        body = await get(client, f"/history/users/{user.id}/coverage")

        assert body["total_plays"] == 0
        assert body["first_play"] is None
        assert (body["days_with_plays"], body["days_in_range"], body["day_coverage"]) == (0, 0, 0)
        assert body["largest_gaps"] == []


class TestTasteSummary:
    async def test_a_compact_portrait_of_the_month(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("taste-summary"), **MARCH)

        assert (body["total_plays"], body["total_minutes"]) == (8, 17.0)
        assert (body["distinct_artists"], body["distinct_tracks"]) == (2, 3)
        assert [a["name"] for a in body["top_artists"]] == ["Alpha", "Beta"]
        assert [t["name"] for t in body["top_tracks"]] == ["One", "Three", "Two"]
        assert body["by_part_of_day"] == {"night": 4, "morning": 2, "afternoon": 0, "evening": 2}
        # One was first heard on 29 February; Two and Three (so Beta) are new in March.
        assert (body["new_tracks"], body["track_discovery_share"]) == (2, 0.6667)
        assert (body["new_artists"], body["artist_discovery_share"]) == (1, 0.5)

    async def test_discovery_share_is_null_without_a_window_start(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("taste-summary"))

        assert body["total_plays"] == 10  # all twelve but the short play and the episode
        assert body["track_discovery_share"] is None
        assert body["new_tracks"] == 0

    async def test_limit_caps_the_top_lists(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("taste-summary"), limit=1, **MARCH)

        assert len(body["top_artists"]) == len(body["top_tracks"]) == 1


class TestWindows:
    async def test_days_counts_back_from_now(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        track = await create_track(db_session)
        now = datetime.now(UTC)
        for age in (timedelta(hours=1), timedelta(days=6), timedelta(days=8)):
            await create_play(db_session, user=user, track=track, played_at=now - age)

        body = await get(client, f"/history/users/{user.id}/top-tracks", days=7)

        assert body["tracks"][0]["plays"] == 2

    async def test_a_single_date_is_one_whole_local_day(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await get(client, listening.url("top-tracks"), start="2024-03-31", end="2024-03-31")

        assert sorted((t["name"], t["plays"]) for t in body["tracks"]) == [
            ("One", 1),
            ("Three", 1),
            ("Two", 1),
        ]

    async def test_datetimes_with_and_without_an_offset(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        # Naive: local Stockholm time, so 09:00-09:05 local holds the 08:00 UTC play only.
        naive = await get(
            client,
            listening.url("top-tracks"),
            start="2024-03-04T09:00:00",
            end="2024-03-04T09:05:00",
        )
        assert [(t["name"], t["plays"]) for t in naive["tracks"]] == [("One", 1)]
        # With an offset: taken as given.
        aware = await get(
            client,
            listening.url("top-tracks"),
            start="2024-03-04T08:01:00Z",
            end="2024-03-04T08:06:00+00:00",
        )
        assert [(t["name"], t["plays"]) for t in aware["tracks"]] == [("One", 1)]


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"days": 7, "start": "2024-03-01"}, "not both"),
            ({"start": "2024-03-10", "end": "2024-03-01"}, "end must be after start"),
            ({"start": "2024-03-04T10:00:00", "end": "2024-03-04T10:00:00"}, "after start"),
            ({"start": "1999-12-31"}, "between 2000-01-01"),
            ({"end": "2100-01-01"}, "between 2000-01-01"),
        ],
    )
    async def test_a_contradictory_window_is_a_clear_400(
        self,
        client: httpx.AsyncClient,
        listening: Listening,
        params: dict[str, Any],
        message: str,
    ) -> None:
        response = await client.get(listening.url("top-artists"), params=params, headers=ADMIN)

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_window"
        assert message in error["message"]

    async def test_an_unknown_time_zone_is_a_clear_400(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        response = await client.get(
            listening.url("heatmap"), params={"tz": "Mars/Olympus_Mons"}, headers=ADMIN
        )

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_timezone"
        assert "Mars/Olympus_Mons" in response.json()["error"]["message"]

    @pytest.mark.parametrize(
        "params",
        [
            {"days": 0},
            {"days": 7301},
            {"start": "not-a-date"},
            {"min_ms": -1},
            {"limit": 0},
            {"limit": 101},
        ],
    )
    async def test_out_of_bounds_parameters_are_422(
        self, client: httpx.AsyncClient, listening: Listening, params: dict[str, Any]
    ) -> None:
        response = await client.get(listening.url("top-tracks"), params=params, headers=ADMIN)

        assert response.status_code == 422
        [field] = params
        assert response.json()["detail"][0]["loc"][-1] == field

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_an_unknown_user_is_404_in_the_error_envelope(
        self, client: httpx.AsyncClient, endpoint: str
    ) -> None:
        response = await client.get(f"/history/users/999999/{endpoint}", headers=ADMIN)

        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "User 999999 does not exist."}
        }

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_credentials_are_required(
        self, client: httpx.AsyncClient, listening: Listening, endpoint: str
    ) -> None:
        response = await client.get(listening.url(endpoint))

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


class TestServiceSeam:
    async def test_the_service_answers_without_http(
        self, db_session: AsyncSession, listening: Listening
    ) -> None:
        service = HistoryService()
        march = PlayFilter.model_validate(MARCH)

        summary = await service.taste_summary(db_session, listening.user.id, march, limit=2)
        heatmap = await service.heatmap(db_session, listening.user.id, march)

        assert summary.total_plays == heatmap.total_plays == 8
        assert summary.window.timezone == "Europe/Stockholm"

    async def test_a_fixed_clock_makes_days_reproducible(
        self, db_session: AsyncSession, listening: Listening
    ) -> None:
        service = HistoryService(clock=lambda: utc("2024-04-01 00:00"))

        result = await service.top_tracks(db_session, listening.user.id, PlayFilter(days=1))

        # 2024-03-31 00:00-24:00 UTC holds p8, p9, p10 and p11.
        assert sorted(t.plays for t in result.tracks) == [1, 1, 2]

    async def test_the_newer_questions_answer_without_http(
        self, db_session: AsyncSession, listening: Listening
    ) -> None:
        service = HistoryService(clock=lambda: utc("2024-04-01 00:00"))
        last_day = PlayFilter(days=1)  # 2024-03-31 00:00 to 24:00 UTC: p8, p9, p10 and p11

        page = await service.play_history(db_session, listening.user.id, last_day, limit=2)
        comparison = await service.compare_periods(db_session, listening.user.id, last_day)
        series = await service.listening_time(db_session, listening.user.id, last_day)

        assert [p.played_at for p in page.plays] == [
            utc("2024-03-31 22:30"),
            utc("2024-03-31 21:30"),
        ]
        assert page.next_cursor is not None
        assert (comparison.period_a.plays, comparison.period_b.plays) == (4, 0)
        assert comparison.period_b.window.end == utc("2024-03-31 00:00")
        # The UTC day is 01:00 on 31 March to 02:00 on 1 April in Stockholm.
        assert [(b.label, b.plays) for b in series.buckets] == [
            ("2024-03-31", 3),
            ("2024-04-01", 1),
        ]
