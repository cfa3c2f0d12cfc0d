"""Analytics: a period picker and one fragment per chart, drawn from the history API."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import PlaySource
from shared.db.models import User
from testkit.factories import create_artist, create_play, create_track, create_user

CHARTS = (
    "top-artists",
    "top-tracks",
    "listening-day",
    "listening-week",
    "listening-month",
    "heatmap",
    "discoveries",
    "coverage",
)


def chart_spec(fragment: str) -> dict[str, Any]:
    """The chart spec a fragment hands to the page's script."""
    found = re.search(r"<canvas [^>]*data-spec='([^']*)'", fragment)
    assert found is not None, fragment
    spec: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return spec


async def listener_with_plays(session: AsyncSession) -> User:
    """A listener in Stockholm with plays of two artists over the last days, two sources."""
    user = await create_user(session, display_name="Chart Listener", timezone="Europe/Stockholm")
    loud = await create_artist(session, name="Loud Band")
    quiet = await create_artist(session, name="Quiet Singer")
    hit = await create_track(session, name="Hit Song", artists=[loud])
    ballad = await create_track(session, name="Ballad", artists=[quiet])
    # A Monday 08:30 UTC is 09:30 or 10:30 in Stockholm: the heatmap's local hour.
    monday = datetime(2026, 11, 16, 8, 30, tzinfo=UTC)
    for n in range(6):
        await create_play(session, user=user, track=hit, played_at=monday + timedelta(hours=n * 5))
    for n in range(2):
        await create_play(
            session,
            user=user,
            track=ballad,
            played_at=monday - timedelta(days=3, minutes=n * 7),
            source=PlaySource.EXTENDED_EXPORT,
        )
    return user


class TestAnalyticsPage:
    async def test_has_a_period_picker_and_a_panel_per_chart(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        page = await admin.get(f"/analytics/{user.id}?period=30d")

        assert page.status_code == 200
        for key in ("7d", "30d", "90d", "365d", "all"):
            assert f'href="/analytics/{user.id}?period={key}"' in page.text
        assert f'aria-current="true" href="/analytics/{user.id}?period=30d"' in page.text
        for chart in CHARTS:
            assert f'hx-get="/partials/analytics/{user.id}/{chart}?period=30d"' in page.text
        assert "chart.umd.min.js" in page.text
        assert "Europe/Stockholm" in page.text

    async def test_custom_dates_become_the_period_of_every_chart(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        page = await admin.get(f"/analytics/{user.id}?start=2026-11-01&end=2026-11-20")

        assert "2026-11-01 to 2026-11-20" in page.text
        assert f"/partials/analytics/{user.id}/heatmap?start=2026-11-01&amp;end=2026-11-20" in (
            page.text
        )

    async def test_the_user_chooser_links_each_user(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session, display_name="Pick Me")
        page = await admin.get("/analytics")
        assert f'href="/analytics/{user.id}">Pick Me' in page.text

    async def test_an_unknown_user_is_a_404_page(self, admin: httpx.AsyncClient) -> None:
        assert (await admin.get("/analytics/987654")).status_code == 404


class TestChartFragments:
    async def test_top_artists_and_tracks_are_bars_of_plays(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        artists = await admin.get(f"/partials/analytics/{user.id}/top-artists?period=all")
        tracks = await admin.get(f"/partials/analytics/{user.id}/top-tracks?period=all")

        assert chart_spec(artists.text) == {
            "kind": "hbar",
            "labels": ["Loud Band", "Quiet Singer"],
            "series": [{"label": "Plays", "data": [6, 2]}],
        }
        assert chart_spec(tracks.text)["labels"] == [
            "Hit Song — Loud Band",
            "Ballad — Quiet Singer",
        ]
        assert 'data-chart-state="ready"' in artists.text
        assert '<canvas data-chart="top-artists"' in artists.text

    async def test_the_heatmap_counts_in_the_users_time_zone(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        fragment = await admin.get(f"/partials/analytics/{user.id}/heatmap?period=all")

        spec = chart_spec(fragment.text)
        assert spec["kind"] == "heatmap"
        assert spec["rows"][0] == "Monday"
        assert len(spec["matrix"]) == 7
        assert all(len(row) == 24 for row in spec["matrix"])
        assert spec["matrix"][0][9] == 1  # 08:30 UTC on a November Monday is 09:30 in Stockholm
        assert sum(map(sum, spec["matrix"])) == 8
        assert "Local time in Europe/Stockholm." in fragment.text

    async def test_coverage_splits_plays_by_source(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        fragment = await admin.get(f"/partials/analytics/{user.id}/coverage?period=all")

        spec = chart_spec(fragment.text)
        assert spec["kind"] == "doughnut"
        assert dict(zip(spec["labels"], spec["series"][0]["data"], strict=True)) == {
            "Spotify API": 6,
            "Extended export": 2,
            "Account data export": 0,
        }

    async def test_a_period_without_plays_says_so_instead_of_an_empty_chart(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        fragment = await admin.get(
            f"/partials/analytics/{user.id}/top-artists?start=2010-01-01&end=2010-02-01"
        )

        assert 'data-chart-state="empty"' in fragment.text
        assert "<canvas" not in fragment.text
        assert "No plays in this period." in fragment.text

    @pytest.mark.parametrize("chart", ["top-artists", "heatmap", "coverage"])
    async def test_the_period_reaches_the_api(
        self, admin: httpx.AsyncClient, db_session: AsyncSession, chart: str
    ) -> None:
        user = await listener_with_plays(db_session)
        # Only the two export plays lie before 2026-11-15 (local): three days before Monday.
        fragment = await admin.get(
            f"/partials/analytics/{user.id}/{chart}?start=2026-11-01&end=2026-11-14"
        )
        spec = chart_spec(fragment.text)
        total = (
            sum(map(sum, spec["matrix"])) if chart == "heatmap" else sum(spec["series"][0]["data"])
        )
        assert total == 2

    async def test_an_unknown_chart_is_a_400(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await create_user(db_session)
        fragment = await admin.get(
            f"/partials/analytics/{user.id}/pie-of-everything", headers={"HX-Request": "true"}
        )
        assert fragment.status_code == 400


class TestTimeCharts:
    @pytest.mark.parametrize(
        ("chart", "labels"),
        [
            (
                "listening-day",
                ["2026-11-13", "2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17"],
            ),
            ("listening-week", ["2026-W46", "2026-W47"]),
            ("listening-month", ["2026-11"]),
        ],
    )
    async def test_listening_time_is_hours_per_local_day_week_and_month(
        self, admin: httpx.AsyncClient, db_session: AsyncSession, chart: str, labels: list[str]
    ) -> None:
        user = await listener_with_plays(db_session)

        fragment = await admin.get(
            f"/partials/analytics/{user.id}/{chart}?start=2026-11-13&end=2026-11-17"
        )

        spec = chart_spec(fragment.text)
        assert spec["kind"] == "bar"
        assert spec["labels"] == labels
        hours = spec["series"][0]["data"]
        assert sum(hours) == pytest.approx(8 * 3 / 60, abs=0.02)  # eight plays of 3 minutes
        assert "0.4 h in 8 plays" in fragment.text

    async def test_discoveries_count_new_artists_and_tracks_over_time(
        self, admin: httpx.AsyncClient, db_session: AsyncSession
    ) -> None:
        user = await listener_with_plays(db_session)

        fragment = await admin.get(
            f"/partials/analytics/{user.id}/discoveries?start=2026-11-01&end=2026-11-30"
        )

        spec = chart_spec(fragment.text)
        assert [series["label"] for series in spec["series"]] == ["New artists", "New tracks"]
        assert sum(spec["series"][0]["data"]) == 2
        assert sum(spec["series"][1]["data"]) == 2
        assert "2 new artists, 2 new tracks." in fragment.text
