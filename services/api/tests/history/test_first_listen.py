"""First listens: by name or id, ambiguous names, windows and never-heard, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from testkit.factories import create_artist, create_play, create_track

from .conftest import ADMIN, MARCH, Listening, utc


async def first_listen(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    """GET first-listen as admin and return the JSON body of a 200."""
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestArtist:
    async def test_first_and_latest_play_and_the_count_since(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await first_listen(client, listening.url("first-listen"), artist="alpha")

        assert body["subject_kind"] == "artist"
        assert body["subject"] == {
            "id": listening.alpha.id,
            "name": "Alpha",
            "artists": [],
            "plays": 7,
        }
        assert body["matched_by"] == "exact_name"
        assert body["alternatives"] == []
        # One at 22:30 UTC on 29 February: still 29 February in Stockholm.
        assert body["first_play"]["played_at"] == "2024-02-29T22:30:00Z"
        assert body["first_play"]["played_at_local"] == "2024-02-29T23:30:00+01:00"
        assert body["first_play"]["track_name"] == "One"
        # The last play ends after midnight in summer time: 1 April locally.
        assert body["last_play"]["played_at_local"] == "2024-04-01T00:30:00+02:00"
        # Five plays of One and two of Two (the 29,999 ms play does not count).
        assert (body["plays"], body["minutes"]) == (7, 20.7)

    async def test_by_id(self, client: httpx.AsyncClient, listening: Listening) -> None:
        body = await first_listen(
            client, listening.url("first-listen"), artist_id=listening.beta.id
        )

        assert body["matched_by"] == "id"
        assert body["subject"]["name"] == "Beta"
        assert body["first_play"]["played_at"] == "2024-02-29T23:30:00Z"
        assert body["plays"] == 5

    async def test_a_shared_name_picks_the_most_played_artist_and_lists_the_others(
        self, client: httpx.AsyncClient, db_session: AsyncSession, listening: Listening
    ) -> None:
        namesake = await create_artist(db_session, name="ALPHA")
        other = await create_track(db_session, name="Elsewhere", artists=[namesake])
        await create_play(
            db_session, user=listening.user, track=other, played_at=utc("2024-01-10 10:00")
        )
        longer = await create_artist(db_session, name="Alphaville")
        forever = await create_track(db_session, name="Forever Young", artists=[longer])
        await create_play(
            db_session, user=listening.user, track=forever, played_at=utc("2024-01-11 10:00")
        )

        body = await first_listen(client, listening.url("first-listen"), artist="Alpha")

        assert body["subject"]["id"] == listening.alpha.id
        assert body["alternatives"] == [
            {"id": namesake.id, "name": "ALPHA", "artists": [], "plays": 1}
        ]

    async def test_part_of_a_name_when_no_name_matches_whole(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await first_listen(client, listening.url("first-listen"), artist="lph")

        assert body["matched_by"] == "name_contains"
        assert body["subject"]["id"] == listening.alpha.id

    async def test_the_window_bounds_the_search(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await first_listen(client, listening.url("first-listen"), artist="Alpha", **MARCH)

        assert body["first_play"]["played_at"] == "2024-03-04T08:00:00Z"
        assert body["last_play"]["played_at"] == "2024-03-31T01:30:00Z"
        assert body["plays"] == 5


class TestTrack:
    async def test_by_name_and_artist(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await first_listen(client, listening.url("first-listen"), track="two", artist="beta")

        assert body["subject_kind"] == "track"
        assert body["subject"] == {
            "id": listening.two.id,
            "name": "Two",
            "artists": ["Alpha", "Beta"],
            "plays": 2,
        }
        assert body["first_play"]["played_at"] == "2024-03-05T18:30:00Z"
        assert body["last_play"]["played_at"] == "2024-03-31T01:30:00Z"

    async def test_the_artist_narrows_tracks_sharing_a_name(
        self, client: httpx.AsyncClient, db_session: AsyncSession, listening: Listening
    ) -> None:
        cover = await create_track(db_session, name="One", artists=[listening.beta])
        await create_play(
            db_session, user=listening.user, track=cover, played_at=utc("2024-05-01 10:00")
        )

        by_alpha = await first_listen(
            client, listening.url("first-listen"), track="One", artist="Alpha"
        )
        by_anyone = await first_listen(client, listening.url("first-listen"), track="One")

        assert by_alpha["subject"]["id"] == listening.one.id
        assert by_alpha["alternatives"] == []
        assert by_anyone["subject"]["id"] == listening.one.id
        assert [a["id"] for a in by_anyone["alternatives"]] == [cover.id]

    async def test_by_id_with_the_first_play_local_1_march_but_29_february_in_utc(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await first_listen(
            client, listening.url("first-listen"), track_id=listening.three.id
        )

        assert body["first_play"]["played_at_local"] == "2024-03-01T00:30:00+01:00"
        assert body["plays"] == 3

    async def test_an_episode_only_with_episodes_included(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        url = listening.url("first-listen")
        music_only = await client.get(url, params={"track_id": listening.pod.id}, headers=ADMIN)
        assert music_only.status_code == 404

        body = await first_listen(client, url, track_id=listening.pod.id, include_episodes="true")
        assert body["first_play"]["kind"] == "episode"


class TestNeverHeard:
    @pytest.mark.parametrize(
        "params",
        [
            {"artist": "Gamma"},
            {"track": "Four"},
            {"track": "Three", "artist": "Alpha"},
            {"artist_id": "no-such-artist"},
            {"track_id": "no-such-track"},
        ],
    )
    async def test_never_heard_is_a_404_saying_so(
        self, client: httpx.AsyncClient, listening: Listening, params: dict[str, str]
    ) -> None:
        response = await client.get(listening.url("first-listen"), params=params, headers=ADMIN)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "never_heard"

    async def test_a_known_artist_never_played_is_never_heard(
        self, client: httpx.AsyncClient, db_session: AsyncSession, listening: Listening
    ) -> None:
        silent = await create_artist(db_session, name="Silent")

        response = await client.get(
            listening.url("first-listen"), params={"artist_id": silent.id}, headers=ADMIN
        )

        assert response.status_code == 404
        assert "Silent" in response.json()["error"]["message"]

    async def test_only_a_short_play_is_never_heard(
        self, client: httpx.AsyncClient, db_session: AsyncSession, listening: Listening
    ) -> None:
        skipped = await create_track(db_session, name="Skipped", artists=[listening.alpha])
        await create_play(
            db_session,
            user=listening.user,
            track=skipped,
            played_at=utc("2024-05-01 10:00"),
            ms_played=5_000,
        )

        response = await client.get(
            listening.url("first-listen"), params={"track": "Skipped"}, headers=ADMIN
        )

        assert response.status_code == 404


class TestArguments:
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"artist": "   "},
            {"artist_id": "x", "track": "One"},
            {"track_id": "x", "artist": "Alpha"},
        ],
    )
    async def test_exactly_one_subject_is_required(
        self, client: httpx.AsyncClient, listening: Listening, params: dict[str, str]
    ) -> None:
        response = await client.get(listening.url("first-listen"), params=params, headers=ADMIN)

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_argument"
