"""History fixtures: a month of listening small enough to count by hand.

The user lives in Europe/Stockholm (UTC+1, and UTC+2 from 2024-03-31 01:00 UTC). Asked about
March 2024 in local time, eight plays count (marked *):

| play | track | ends (UTC)       | local             | ms        | source          |
|------|-------|------------------|-------------------|-----------|-----------------|
|  p0  | One   | 2024-02-29 22:30 | Thu 02-29 23:30   |   200 000 | api (before)    |
| *p1  | Three | 2024-02-29 23:30 | Fri 03-01 00:30   |    90 000 | account_export  |
| *p2  | One   | 2024-03-04 08:00 | Mon 09:00         |   200 000 | extended_export |
| *p3  | One   | 2024-03-04 08:05 | Mon 09:05         |   100 000 | extended_export |
| *p4  | Two   | 2024-03-05 18:30 | Tue 19:30         |   120 000 | api             |
| *p5  | Three | 2024-03-05 23:30 | Wed 03-06 00:30   |    60 000 | api             |
|  p6  | Two   | 2024-03-10 12:00 | Sun 13:00         |    29 999 | api (too short) |
|  p7  | Pod   | 2024-03-12 07:00 | Tue 08:00         | 1 800 000 | api (episode)   |
| *p8  | One   | 2024-03-31 00:30 | Sun 01:30 (CET)   |   180 000 | api             |
| *p9  | Two   | 2024-03-31 01:30 | Sun 03:30 (CEST)  |   240 000 | api             |
| *p10 | Three | 2024-03-31 21:30 | Sun 23:30         |    30 000 | api             |
|  p11 | One   | 2024-03-31 22:30 | Mon 04-01 00:30   |   200 000 | api (after)     |

One is by Alpha; Two by Alpha featuring Beta; Three by Beta.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.enums import PlaySource
from shared.db.models import Artist, Track, User
from testkit.factories import create_artist, create_episode, create_play, create_track, create_user

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}
MARCH = {"start": "2024-03-01", "end": "2024-03-31"}


def utc(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Listening:
    """The seeded user and catalogue."""

    user: User
    alpha: Artist
    beta: Artist
    one: Track
    two: Track
    three: Track
    pod: Track

    def url(self, endpoint: str) -> str:
        """The history URL of an endpoint for this user."""
        return f"/history/users/{self.user.id}/{endpoint}"


@pytest.fixture
async def listening(db_session: AsyncSession) -> Listening:
    """The month of listening in the table above."""
    user = await create_user(db_session, timezone="Europe/Stockholm")
    alpha = await create_artist(db_session, name="Alpha")
    beta = await create_artist(db_session, name="Beta")
    one = await create_track(db_session, name="One", album_name="First", artists=[alpha])
    two = await create_track(db_session, name="Two", album_name="Second", artists=[alpha, beta])
    three = await create_track(db_session, name="Three", album_name="Third", artists=[beta])
    pod = await create_episode(db_session, name="Pod")
    plays = [
        (one, "2024-02-29 22:30", 200_000, PlaySource.API),
        (three, "2024-02-29 23:30", 90_000, PlaySource.ACCOUNT_EXPORT),
        (one, "2024-03-04 08:00", 200_000, PlaySource.EXTENDED_EXPORT),
        (one, "2024-03-04 08:05", 100_000, PlaySource.EXTENDED_EXPORT),
        (two, "2024-03-05 18:30", 120_000, PlaySource.API),
        (three, "2024-03-05 23:30", 60_000, PlaySource.API),
        (two, "2024-03-10 12:00", 29_999, PlaySource.API),
        (pod, "2024-03-12 07:00", 1_800_000, PlaySource.API),
        (one, "2024-03-31 00:30", 180_000, PlaySource.API),
        (two, "2024-03-31 01:30", 240_000, PlaySource.API),
        (three, "2024-03-31 21:30", 30_000, PlaySource.API),
        (one, "2024-03-31 22:30", 200_000, PlaySource.API),
    ]
    for track, ended, ms_played, source in plays:
        await create_play(
            db_session,
            user=user,
            track=track,
            played_at=utc(ended),
            ms_played=ms_played,
            source=source,
        )
    return Listening(user, alpha, beta, one, two, three, pod)
