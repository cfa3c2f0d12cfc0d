"""Comparing two periods: totals, the change, risers and fallers, on both databases."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import ADMIN, Listening

MARCH_AS_A = {"a_start": "2024-03-01", "a_end": "2024-03-31"}
FEBRUARY_AS_B = {"b_start": "2024-02-01", "b_end": "2024-02-29"}


async def compare(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    """GET compare-periods as admin and return the JSON body of a 200."""
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def shifts(items: list[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
    """(name, plays in A, plays in B, change) of risers or fallers."""
    return [(i["name"], i["plays_a"], i["plays_b"], i["change"]) for i in items]


class TestTwoPeriods:
    async def test_totals_of_each_period_and_a_minus_b(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await compare(
            client, listening.url("compare-periods"), **MARCH_AS_A, **FEBRUARY_AS_B
        )

        a, b = body["period_a"], body["period_b"]
        assert (a["plays"], a["minutes"], a["distinct_artists"], a["distinct_tracks"]) == (
            8,
            17.0,
            2,
            3,
        )
        # February in Stockholm ends at 23:00 UTC on the 29th: only the 22:30 play of One.
        assert (b["plays"], b["minutes"], b["distinct_artists"], b["distinct_tracks"]) == (
            1,
            3.3,
            1,
            1,
        )
        assert body["change"] == {
            "plays": 7,
            "minutes": 13.7,
            "distinct_artists": 1,
            "distinct_tracks": 2,
            "plays_percent": 700.0,
            "minutes_percent": 410.0,  # 1,020,000 ms against 200,000 ms
        }
        assert [(x["name"], x["plays"]) for x in a["top_artists"]] == [("Alpha", 5), ("Beta", 5)]
        assert [(x["name"], x["plays"]) for x in b["top_artists"]] == [("Alpha", 1)]
        assert b["window"]["end"] == "2024-02-29T23:00:00Z"

    async def test_risers_gained_most_in_a_and_fallers_lost_most(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        march_first = await compare(
            client, listening.url("compare-periods"), **MARCH_AS_A, **FEBRUARY_AS_B
        )
        february_first = await compare(
            client,
            listening.url("compare-periods"),
            a_start="2024-02-01",
            a_end="2024-02-29",
            b_start="2024-03-01",
            b_end="2024-03-31",
        )

        assert shifts(march_first["risers"]) == [("Beta", 5, 0, 5), ("Alpha", 5, 1, 4)]
        assert march_first["fallers"] == []
        assert february_first["risers"] == []
        assert shifts(february_first["fallers"]) == [("Beta", 0, 5, -5), ("Alpha", 1, 5, -4)]

    async def test_without_period_b_it_is_the_same_length_right_before_a(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await compare(client, listening.url("compare-periods"), **MARCH_AS_A)

        # Local March is 743 hours long (the spring change skips one).
        assert body["period_b"]["window"]["start"] == "2024-01-30T00:00:00Z"
        assert body["period_b"]["window"]["end"] == "2024-02-29T23:00:00Z"
        assert body["period_b"]["plays"] == 1

    async def test_limit_cuts_every_list(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await compare(
            client, listening.url("compare-periods"), limit=1, **MARCH_AS_A, **FEBRUARY_AS_B
        )

        assert len(body["period_a"]["top_artists"]) == len(body["risers"]) == 1

    async def test_an_empty_period_b_has_no_percentages(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        body = await compare(
            client,
            listening.url("compare-periods"),
            b_start="2023-01-01",
            b_end="2023-01-31",
            **MARCH_AS_A,
        )

        assert body["period_b"]["plays"] == 0
        assert (body["change"]["plays_percent"], body["change"]["minutes_percent"]) == (None, None)


class TestArguments:
    async def test_period_a_without_a_start_needs_an_explicit_period_b(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        response = await client.get(listening.url("compare-periods"), headers=ADMIN)

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_argument"

    async def test_a_contradictory_period_is_a_clear_400(
        self, client: httpx.AsyncClient, listening: Listening
    ) -> None:
        response = await client.get(
            listening.url("compare-periods"),
            params={"a_days": 7, "b_start": "2024-03-10", "b_end": "2024-03-01"},
            headers=ADMIN,
        )

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_window"
