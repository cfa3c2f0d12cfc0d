"""The play history: newest first, filters, local times and keyset pages, on both databases."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import PlaySource
from testkit.factories import create_play, create_track, create_user

from .conftest import ADMIN, MARCH, Listening, utc


async def plays(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    """GET a page of plays as admin."""
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ends(body: dict[str, Any]) -> list[str]:
    """The UTC end times of a page's plays, as the API writes them."""
    return [play["played_at"] for play in body["plays"]]


MARCH_PLAYS = [
    "2024-03-31T21:30:00Z",
    "2024-03-31T01:30:00Z",
    "2024-03-31T00:30:00Z",
    "2024-03-05T23:30:00Z",
    "2024-03-05T18:30:00Z",
    "2024-03-04T08:05:00Z",
    "2024-03-04T08:00:00Z",
    "2024-02-29T23:30:00Z",
]


class TestNewestFirst:
    async def test_counted_plays_of_the_local_month_newest_first(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await plays(client, listening.url("plays"), **MARCH)

        assert ends(body) == MARCH_PLAYS
        assert body["next_cursor"] is None
        assert body["window"]["timezone"] == "Europe/Stockholm"

    async def test_each_play_carries_local_time_track_artists_album_and_source(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await plays(client, listening.url("plays"), **MARCH)

        assert body["plays"][0] == {
            "played_at": "2024-03-31T21:30:00Z",
            "played_at_local": "2024-03-31T23:30:00+02:00",
            "track_id": listening.three.id,
            "track_name": "Three",
            "kind": "track",
            "artists": ["Beta"],
            "album_name": "Third",
            "ms_played": 30_000,
            "source": "api",
        }
        # Before the DST change the same evening hour is an hour closer to UTC.
        assert body["plays"][2]["played_at_local"] == "2024-03-31T01:30:00+01:00"
        assert body["plays"][1]["artists"] == ["Alpha", "Beta"]
        assert body["plays"][-1]["played_at_local"] == "2024-03-01T00:30:00+01:00"
        assert body["plays"][-1]["source"] == "account_export"

    async def test_short_plays_and_episodes_only_on_request(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await plays(
            client, listening.url("plays"), min_ms=0, include_episodes="true", **MARCH
        )

        assert len(body["plays"]) == 10
        episode = next(p for p in body["plays"] if p["kind"] == "episode")
        assert (episode["track_name"], episode["artists"], episode["album_name"]) == (
            "Pod",
            [],
            None,
        )
        assert "2024-03-10T12:00:00Z" in ends(body)  # the 29,999 ms play


class TestFilters:
    async def test_artist_matches_part_of_a_credited_name_in_any_case(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await plays(client, listening.url("plays"), artist="BET", **MARCH)

        # Three (Beta) and Two (Alpha featuring Beta).
        assert ends(body) == [
            "2024-03-31T21:30:00Z",
            "2024-03-31T01:30:00Z",
            "2024-03-05T23:30:00Z",
            "2024-03-05T18:30:00Z",
            "2024-02-29T23:30:00Z",
        ]
        assert body["artist"] == "BET"

    async def test_track_name_and_source_narrow_together(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await plays(
            client, listening.url("plays"), track="on", source="extended_export", **MARCH
        )

        assert ends(body) == ["2024-03-04T08:05:00Z", "2024-03-04T08:00:00Z"]
        assert {p["track_name"] for p in body["plays"]} == {"One"}

    async def test_like_wildcards_in_a_name_are_taken_literally(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        for text in ("%", "_", "Al%a"):
            body = await plays(client, listening.url("plays"), artist=text, **MARCH)
            assert body["plays"] == [], text


class TestPaging:
    async def test_pages_follow_each_other_without_gaps_or_repeats(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 3, **MARCH}
            if cursor is not None:
                params["cursor"] = cursor
            body = await plays(client, listening.url("plays"), **params)
            seen.extend(ends(body))
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break

        assert seen == MARCH_PLAYS
        assert pages == 3

    async def test_plays_arriving_between_pages_do_not_shift_the_next_page(
        self,
        client: httpx.AsyncClient,
        db_session: AsyncSession,
        listening: Listening,
    ) -> None:
        first = await plays(client, listening.url("plays"), limit=3, **MARCH)
        # A play newer than everything, and one ending at the same second as the page's last
        # play (a higher id, so it sorts before that play).
        await create_play(
            db_session, user=listening.user, track=listening.two, played_at=utc("2024-03-31 21:45")
        )
        await create_play(
            db_session, user=listening.user, track=listening.two, played_at=utc("2024-03-31 00:30")
        )

        second = await plays(
            client, listening.url("plays"), limit=3, cursor=first["next_cursor"], **MARCH
        )

        assert ends(second) == MARCH_PLAYS[3:6]

    async def test_plays_ending_in_the_same_second_are_each_listed_once(
        self, client: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        tracks = [await create_track(db_session) for _ in range(3)]
        for track in tracks:
            await create_play(db_session, user=user, track=track, played_at=utc("2024-05-01 12:00"))
        url = f"/history/users/{user.id}/plays"

        seen: list[str] = []
        body = await plays(client, url, limit=1)
        while True:
            seen.extend(p["track_id"] for p in body["plays"])
            if body["next_cursor"] is None:
                break
            body = await plays(client, url, limit=1, cursor=body["next_cursor"])

        assert sorted(seen) == sorted(t.id for t in tracks)

    @pytest.mark.parametrize(
        "cursor",
        [
            "not-a-cursor",
            base64.urlsafe_b64encode(b"p2:1:1").decode(),
            base64.urlsafe_b64encode(b"p1:abc:1").decode(),
            base64.urlsafe_b64encode(b"p1:1:0").decode(),
            base64.urlsafe_b64encode(b"p1:99999999999999999999999:1").decode(),
        ],
    )
    async def test_a_cursor_the_api_did_not_issue_is_a_clear_400(
        self, client: httpx.AsyncClient, listening: Listening, cursor: str
    ) -> None:
        response = await client.get(
            listening.url("plays"), params={"cursor": cursor}, headers=ADMIN
        )

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_cursor"

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"source": "radio"}])
    async def test_out_of_bounds_parameters_are_422(
        self, client: httpx.AsyncClient, listening: Listening, params: dict[str, Any]
    ) -> None:
        response = await client.get(listening.url("plays"), params=params, headers=ADMIN)

        assert response.status_code == 422


class TestSources:
    async def test_every_source_can_be_asked_for(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        counts = {}
        for source in PlaySource:
            body = await plays(client, listening.url("plays"), source=source.value, **MARCH)
            counts[source.value] = len(body["plays"])

        assert counts == {"api": 5, "extended_export": 2, "account_export": 1}
