"""Analytics: one user's listening as charts, for a period picked on the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from frontend.api_client import AdminApiClient, ApiError, ApiNotFoundError
from frontend.formatting import hours, number
from frontend.listing import MAX_ID, QueryReader
from frontend.pages import AdminPages

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
TOP_LIMIT = 10
USER_CHOICES = 200

PRESETS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365, "all": None}
PRESET_LABELS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 12 months",
    "all": "All time",
}
DEFAULT_PRESET = "365d"
SOURCE_LABELS = {
    "api": "Spotify API",
    "extended_export": "Extended export",
    "account_export": "Account data export",
}


class Chart(StrEnum):
    """The charts of the analytics page, each loaded as its own fragment."""

    TOP_ARTISTS = "top-artists"
    TOP_TRACKS = "top-tracks"
    LISTENING_DAY = "listening-day"
    LISTENING_WEEK = "listening-week"
    LISTENING_MONTH = "listening-month"
    HEATMAP = "heatmap"
    DISCOVERIES = "discoveries"
    COVERAGE = "coverage"


CHART_TITLES = {
    Chart.TOP_ARTISTS: "Top artists",
    Chart.TOP_TRACKS: "Top tracks",
    Chart.LISTENING_DAY: "Listening time per day",
    Chart.LISTENING_WEEK: "Listening time per week",
    Chart.LISTENING_MONTH: "Listening time per month",
    Chart.HEATMAP: "When you listen (weekday by hour)",
    Chart.DISCOVERIES: "Discoveries over time",
    Chart.COVERAGE: "Coverage by source",
}


@dataclass(frozen=True)
class Period:
    """The window the charts cover: a preset (last N days, all time) or custom dates."""

    key: str
    days: int | None = None
    start: date | None = None
    end: date | None = None

    @classmethod
    def from_query(cls, reader: QueryReader) -> Period:
        """The period in the query string; the default preset when there is none or it is bad."""
        start, end = reader.day("start"), reader.day("end")
        if start is not None or end is not None:
            if start is not None and end is not None and end < start:
                start, end = end, start
            return cls("custom", start=start, end=end)
        key = reader.choice("period", PRESETS) or DEFAULT_PRESET
        return cls(key, days=PRESETS[key])

    @property
    def label(self) -> str:
        """How the page names the period."""
        if self.key != "custom":
            return PRESET_LABELS[self.key]
        first = self.start.isoformat() if self.start else "the first play"
        last = self.end.isoformat() if self.end else "today"
        return f"{first} to {last}"

    def api_params(self) -> dict[str, Any]:
        """The history API's window parameters."""
        if self.key == "custom":
            return {
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
            }
        return {"days": self.days}

    @property
    def query(self) -> str:
        """The period as a query string, for the chart fragments' URLs."""
        if self.key == "custom":
            values = {"start": self.start, "end": self.end}
            return urlencode({key: value.isoformat() for key, value in values.items() if value})
        return urlencode({"period": self.key})


ChartBuilder = Callable[[AdminApiClient, int, Period], Awaitable[dict[str, Any]]]


class AnalyticsRouter:
    """`/analytics` (choose a user), `/analytics/{id}` and one fragment per chart."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages
        self.router = APIRouter()
        route = self.router.add_api_route
        route("/analytics", self.choose_user, methods=["GET"], response_class=HTMLResponse)
        route("/analytics/{user_id}", self.analytics, methods=["GET"], response_class=HTMLResponse)
        route(
            "/partials/analytics/{user_id}/{chart}",
            self.chart,
            methods=["GET"],
            response_class=HTMLResponse,
        )
        self._builders: dict[Chart, ChartBuilder] = {
            Chart.TOP_ARTISTS: self._top_artists,
            Chart.TOP_TRACKS: self._top_tracks,
            Chart.LISTENING_DAY: self._listening("day"),
            Chart.LISTENING_WEEK: self._listening("week"),
            Chart.LISTENING_MONTH: self._listening("month"),
            Chart.HEATMAP: self._heatmap,
            Chart.DISCOVERIES: self._discoveries,
            Chart.COVERAGE: self._coverage,
        }

    async def choose_user(self, request: Request) -> HTMLResponse:
        """Which user's analytics to open."""
        users = await self._pages.api_for(request).list_users(limit=USER_CHOICES)
        return self._pages.render(
            request, "analytics_users.html", {"nav": "analytics", "users": users["items"]}
        )

    async def analytics(self, request: Request, user_id: UserId) -> HTMLResponse:
        """The page: the period picker and a panel per chart, each loading itself."""
        user = await self._pages.api_for(request).get_user(user_id)
        period = Period.from_query(QueryReader(request.query_params))
        return self._pages.render(
            request,
            "analytics.html",
            {
                "nav": "analytics",
                "user": user,
                "period": period,
                "presets": PRESET_LABELS,
                "charts": [(chart.value, CHART_TITLES[chart]) for chart in Chart],
            },
        )

    async def chart(self, request: Request, user_id: UserId, chart: Chart) -> HTMLResponse:
        """One chart's fragment: a canvas and its data; errors are shown in the panel."""
        period = Period.from_query(QueryReader(request.query_params))
        context: dict[str, Any] = {"chart": chart.value, "title": CHART_TITLES[chart]}
        try:
            context.update(
                await self._builders[chart](self._pages.api_for(request), user_id, period)
            )
        except ApiNotFoundError:
            context["problem"] = "The API does not offer this chart."
        except ApiError as exc:
            if exc.status_code == 401:
                raise
            context["problem"] = exc.message
        return self._pages.partial(request, "partials/chart.html", context)

    # -- one builder per chart: the API's answer as a chart spec for static/js/admin.js ----

    @staticmethod
    async def _top_artists(api: AdminApiClient, user_id: int, period: Period) -> dict[str, Any]:
        answer = await api.history(user_id, "top-artists", limit=TOP_LIMIT, **period.api_params())
        artists = answer["artists"]
        return {
            "spec": {
                "kind": "hbar",
                "labels": [artist["name"] for artist in artists],
                "series": [{"label": "Plays", "data": [artist["plays"] for artist in artists]}],
            },
            "empty": not artists,
            "notes": [],
        }

    @staticmethod
    async def _top_tracks(api: AdminApiClient, user_id: int, period: Period) -> dict[str, Any]:
        answer = await api.history(user_id, "top-tracks", limit=TOP_LIMIT, **period.api_params())
        tracks = answer["tracks"]
        labels = [
            f"{track['name']} — {track['artists'][0]}" if track["artists"] else track["name"]
            for track in tracks
        ]
        return {
            "spec": {
                "kind": "hbar",
                "labels": labels,
                "series": [{"label": "Plays", "data": [track["plays"] for track in tracks]}],
            },
            "empty": not tracks,
            "notes": [],
        }

    @staticmethod
    def _listening(bucket: str) -> ChartBuilder:
        async def build(api: AdminApiClient, user_id: int, period: Period) -> dict[str, Any]:
            answer = await api.history(
                user_id, "listening-time", bucket=bucket, **period.api_params()
            )
            buckets = answer["buckets"]
            notes = [f"{hours(answer['total_minutes'])} in {number(answer['total_plays'])} plays"]
            if answer.get("bucket") and answer["bucket"] != bucket:
                notes.append(f"Shown per {answer['bucket']}: the period has too many {bucket}s.")
            return {
                "spec": {
                    "kind": "bar",
                    "labels": [item["label"] for item in buckets],
                    "series": [
                        {
                            "label": "Hours",
                            "data": [round(item["minutes"] / 60, 2) for item in buckets],
                        }
                    ],
                },
                "empty": not any(item["plays"] for item in buckets),
                "notes": notes,
            }

        return build

    @staticmethod
    async def _heatmap(api: AdminApiClient, user_id: int, period: Period) -> dict[str, Any]:
        answer = await api.history(user_id, "heatmap", **period.api_params())
        peak = answer.get("peak")
        notes = [f"Local time in {answer['window']['timezone']}."]
        if peak:
            notes.append(
                f"Busiest: {answer['weekdays'][peak['weekday']]} {peak['hour']:02d}:00 "
                f"({number(peak['plays'])} plays)."
            )
        return {
            "spec": {"kind": "heatmap", "rows": answer["weekdays"], "matrix": answer["counts"]},
            "empty": not answer["total_plays"],
            "notes": notes,
        }

    @staticmethod
    async def _discoveries(api: AdminApiClient, user_id: int, period: Period) -> dict[str, Any]:
        answer = await api.history(user_id, "discoveries", **period.api_params())
        timeline = answer["timeline"]
        return {
            "spec": {
                "kind": "bar",
                "labels": [item["label"] for item in timeline],
                "series": [
                    {"label": "New artists", "data": [item["new_artists"] for item in timeline]},
                    {"label": "New tracks", "data": [item["new_tracks"] for item in timeline]},
                ],
            },
            "empty": not (answer["new_artists"] or answer["new_tracks"]),
            "notes": [
                f"{number(answer['new_artists'])} new artists, "
                f"{number(answer['new_tracks'])} new tracks."
            ],
        }

    @staticmethod
    async def _coverage(api: AdminApiClient, user_id: int, period: Period) -> dict[str, Any]:
        answer = await api.history(user_id, "coverage", **period.api_params())
        sources = answer["plays_by_source"]
        notes = [
            f"Plays on {number(answer['days_with_plays'])} of "
            f"{number(answer['days_in_range'])} days ({100 * answer['day_coverage']:.0f} %)."
        ]
        notes.extend(
            f"Gap of {gap['hours']:,.0f} h after {gap['after'][:10]}"
            for gap in answer["largest_gaps"][:3]
        )
        return {
            "spec": {
                "kind": "doughnut",
                "labels": [SOURCE_LABELS.get(name, name) for name in sources],
                "series": [{"label": "Plays", "data": list(sources.values())}],
            },
            "empty": not answer["total_plays"],
            "notes": notes,
        }
