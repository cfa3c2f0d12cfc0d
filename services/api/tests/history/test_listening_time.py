"""Listening time per local day, ISO week or month, empty buckets included, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from testkit.factories import create_play, create_track, create_user

from .conftest import ADMIN, MARCH, Listening, utc


async def listening_time(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    """GET listening-time as admin and return the JSON body of a 200."""
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def points(body: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """label -> (plays, minutes) of the non-empty buckets."""
    return {b["label"]: (b["plays"], b["minutes"]) for b in body["buckets"] if b["plays"]}


class TestBuckets:
    async def test_local_days_of_a_month_including_the_dst_change(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await listening_time(client, listening.url("listening-time"), **MARCH)

        assert (body["bucket"], body["requested_bucket"]) == ("day", "day")
        assert len(body["buckets"]) == 31
        assert body["buckets"][0]["start"] == "2024-03-01"
        assert points(body) == {
            "2024-03-01": (1, 1.5),  # 23:30 UTC on 29 February
            "2024-03-04": (2, 5.0),
            "2024-03-05": (1, 2.0),
            "2024-03-06": (1, 1.0),  # 23:30 UTC on 5 March
            "2024-03-31": (3, 7.5),  # 01:30 CET, 03:30 CEST and 23:30 CEST
        }
        assert (body["total_plays"], body["total_minutes"]) == (8, 17.0)

    async def test_utc_days_put_the_evening_plays_a_day_earlier(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await listening_time(client, listening.url("listening-time"), tz="UTC", **MARCH)

        assert points(body) == {
            "2024-03-04": (2, 5.0),
            "2024-03-05": (2, 3.0),
            "2024-03-31": (4, 10.8),
        }

    async def test_iso_weeks_start_on_monday(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await listening_time(client, listening.url("listening-time"), bucket="week", **MARCH)

        assert [b["label"] for b in body["buckets"]] == [
            "2024-W09",
            "2024-W10",
            "2024-W11",
            "2024-W12",
            "2024-W13",
        ]
        assert points(body) == {
            "2024-W09": (1, 1.5),
            "2024-W10": (4, 8.0),
            "2024-W13": (3, 7.5),
        }

    async def test_months_of_the_whole_history(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await listening_time(client, listening.url("listening-time"), bucket="month")

        assert points(body) == {
            "2024-02": (1, 3.3),
            "2024-03": (8, 17.0),
            "2024-04": (1, 3.3),  # 00:30 on 1 April in Stockholm
        }
        assert body["buckets"][0]["label"] == "2024-02"

    async def test_the_autumn_dst_day_has_twenty_five_hours(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, timezone="Europe/Stockholm")
        track = await create_track(db_session)
        # 00:30 CEST, 23:30 CET on 27 October; 00:30 CET on the 28th.
        for ended in ("2024-10-26 22:30", "2024-10-27 22:30", "2024-10-27 23:30"):
            await create_play(db_session, user=user, track=track, played_at=utc(ended))

        body = await listening_time(
            client,
            f"/history/users/{user.id}/listening-time",
            start="2024-10-27",
            end="2024-10-28",
        )

        assert [(b["label"], b["plays"]) for b in body["buckets"]] == [
            ("2024-10-27", 2),
            ("2024-10-28", 1),
        ]


class TestBoundedPoints:
    async def test_more_than_a_thousand_days_come_in_weeks(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await listening_time(
            client, listening.url("listening-time"), start="2020-01-01", end="2024-12-31"
        )

        assert (body["requested_bucket"], body["bucket"]) == ("day", "week")
        assert len(body["buckets"]) == 262
        assert body["total_plays"] == 10

    async def test_a_user_without_plays_and_no_window_has_no_buckets(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        body = await listening_time(client, f"/history/users/{user.id}/listening-time")

        assert (body["buckets"], body["total_plays"]) == ([], 0)

    async def test_an_unknown_bucket_is_422(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        response = await client.get(
            listening.url("listening-time"), params={"bucket": "hour"}, headers=ADMIN
        )

        assert response.status_code == 422
