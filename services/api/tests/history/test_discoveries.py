"""Discoveries: first plays ever inside the window and their timeline, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from testkit.factories import create_play, create_track, create_user

from .conftest import ADMIN, MARCH, Listening, utc


async def discoveries(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    """GET discoveries as admin and return the JSON body of a 200."""
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def timeline(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(label, new artists, new tracks) of every bucket."""
    return [(b["label"], b["new_artists"], b["new_tracks"]) for b in body["timeline"]]


class TestNewInTheWindow:
    async def test_tracks_and_artists_first_heard_in_the_local_month(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await discoveries(client, listening.url("discoveries"), **MARCH)

        # One was first heard on 29 February; Three's first play is 1 March in Stockholm.
        assert (body["new_artists"], body["new_tracks"]) == (1, 2)
        assert body["tracks"] == [
            {
                "track_id": listening.three.id,
                "name": "Three",
                "kind": "track",
                "album_name": "Third",
                "artists": ["Beta"],
                "first_played_at": "2024-02-29T23:30:00Z",
                "plays": 3,
                "minutes": 3.0,
            },
            {
                "track_id": listening.two.id,
                "name": "Two",
                "kind": "track",
                "album_name": "Second",
                "artists": ["Alpha", "Beta"],
                "first_played_at": "2024-03-05T18:30:00Z",
                "plays": 2,
                "minutes": 6.0,
            },
        ]
        assert body["artists"] == [
            {
                "artist_id": listening.beta.id,
                "name": "Beta",
                "first_played_at": "2024-02-29T23:30:00Z",
                "plays": 5,
                "minutes": 9.0,
            }
        ]

    async def test_in_utc_the_first_of_march_play_is_still_february(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await discoveries(client, listening.url("discoveries"), tz="UTC", **MARCH)

        assert (body["new_artists"], body["new_tracks"]) == (0, 1)
        assert [t["name"] for t in body["tracks"]] == ["Two"]

    async def test_a_play_too_short_to_count_is_no_first_listen(
        self, client: httpx.AsyncClient, db_session: AsyncSession, listening: Listening
    ) -> None:
        # A one-second play of Two on 1 March, before its first counted play on 5 March.
        await create_play(
            db_session,
            user=listening.user,
            track=listening.two,
            played_at=utc("2024-03-01 12:00"),
            ms_played=1_000,
        )
        from_5_march = {"start": "2024-03-05", "end": "2024-03-31"}

        counted = await discoveries(client, listening.url("discoveries"), **from_5_march)
        everything = await discoveries(
            client, listening.url("discoveries"), min_ms=0, **from_5_march
        )

        assert [t["name"] for t in counted["tracks"]] == ["Two"]
        assert everything["tracks"] == []

    async def test_limit_cuts_the_lists_but_not_the_counts(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await discoveries(client, listening.url("discoveries"), limit=1, **MARCH)

        assert [t["name"] for t in body["tracks"]] == ["Three"]
        assert body["new_tracks"] == 2


class TestTimeline:
    async def test_weeks_for_a_month_with_empty_weeks_included(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await discoveries(client, listening.url("discoveries"), **MARCH)

        assert body["bucket"] == "week"
        assert timeline(body) == [
            ("2024-W09", 1, 1),  # Friday 1 March: Beta and Three
            ("2024-W10", 0, 1),  # Two
            ("2024-W11", 0, 0),
            ("2024-W12", 0, 0),
            ("2024-W13", 0, 0),
        ]
        assert body["timeline"][0]["start"] == "2024-02-26"

    async def test_months_for_half_a_year_in_local_and_in_utc_time(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        half_year = {"start": "2024-01-01", "end": "2024-06-30"}

        local = await discoveries(client, listening.url("discoveries"), **half_year)
        utc_time = await discoveries(client, listening.url("discoveries"), tz="UTC", **half_year)

        assert local["bucket"] == "month"
        assert timeline(local) == [
            ("2024-01", 0, 0),
            ("2024-02", 1, 1),  # Alpha and One
            ("2024-03", 1, 2),
            ("2024-04", 0, 0),
            ("2024-05", 0, 0),
            ("2024-06", 0, 0),
        ]
        assert timeline(utc_time)[1:3] == [("2024-02", 2, 2), ("2024-03", 0, 1)]

    async def test_a_discovery_just_after_the_spring_dst_change_stays_in_march(
        self, client: httpx.AsyncClient, db_session: AsyncSession, listening: Listening
    ) -> None:
        # 22:00 UTC on 31 March is midnight in Stockholm (CEST) - April; 21:59 is March.
        late = await create_track(db_session, name="Late", artists=[listening.alpha])
        later = await create_track(db_session, name="Later", artists=[listening.alpha])
        await create_play(
            db_session, user=listening.user, track=late, played_at=utc("2024-03-31 21:59")
        )
        await create_play(
            db_session, user=listening.user, track=later, played_at=utc("2024-03-31 22:00")
        )

        body = await discoveries(
            client, listening.url("discoveries"), start="2024-01-01", end="2024-06-30"
        )

        assert timeline(body)[2:4] == [("2024-03", 1, 3), ("2024-04", 0, 1)]

    async def test_the_whole_history_starts_at_the_first_play(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await discoveries(client, listening.url("discoveries"))

        assert (body["new_artists"], body["new_tracks"]) == (2, 3)
        assert body["bucket"] == "month"
        assert timeline(body)[:3] == [("2024-02", 1, 1), ("2024-03", 1, 2), ("2024-04", 0, 0)]
        assert sum(b["new_tracks"] for b in body["timeline"]) == 3

    async def test_a_user_without_plays_has_an_empty_timeline(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)

        body = await discoveries(client, f"/history/users/{user.id}/discoveries")

        assert (body["new_artists"], body["new_tracks"], body["timeline"]) == (0, 0, [])
