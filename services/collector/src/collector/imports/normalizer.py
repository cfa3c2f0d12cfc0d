"""`RecordNormalizer`: one export record to a `NormalizedPlay`, or the reason it is skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.db.enums import ItemKind, PlaySource
from shared.plays.model import NormalizedPlay, local_id

# Spotify launched in 2008; anything earlier (1970 above all) is a broken clock.
EARLIEST_PLAY = datetime(2008, 1, 1, tzinfo=UTC)
# Longer than any single sitting; a bigger ms_played is a corrupt counter.
LONGEST_PLAY_MS = 24 * 60 * 60 * 1000

# Rows Spotify itself writes without a playable item: skipped, but not a sign of bad data.
EXPECTED_SKIP_REASONS = frozenset({"no_item", "unknown_item"})

_TRACK_PREFIX = "spotify:track:"
_EPISODE_PREFIX = "spotify:episode:"
_UNKNOWN_ARTIST = "unknown artist"

Outcome = NormalizedPlay | str


class RecordNormalizer:
    """Turns extended and account-data records of one user's import into plays.

    Personal fields (username, ip_addr*, user_agent*) are never read, so never stored.
    """

    def __init__(self, *, user_id: int, import_job_id: int | None, now: datetime) -> None:
        self._user_id = user_id
        self._import_job_id = import_job_id
        self._latest = now + timedelta(days=1)
        self._artist_ids: dict[str, str] = {}

    def extended(self, record: Any) -> Outcome:
        """A record of the extended history (current or legacy endsong format)."""
        if type(record) is not dict:
            return "wrong_type"
        played_at = self._timestamp(record.get("ts"))
        if type(played_at) is str:
            return played_at
        assert isinstance(played_at, datetime)
        ms_played = record.get("ms_played")
        if type(ms_played) is not int or not 0 <= ms_played <= LONGEST_PLAY_MS:
            return "invalid_ms_played"
        track_uri = record.get("spotify_track_uri")
        artist_ids: tuple[str, ...] = ()
        artist_names: tuple[str, ...] = ()
        album_name = show_name = None
        if type(track_uri) is str and track_uri.startswith(_TRACK_PREFIX):
            kind = ItemKind.TRACK
            item_id = track_uri[len(_TRACK_PREFIX) :]
            name = record.get("master_metadata_track_name")
            artist = record.get("master_metadata_album_artist_name")
            if type(artist) is str and artist:
                artist_ids = (self._artist_id(artist),)
                artist_names = (artist,)
            album = record.get("master_metadata_album_album_name")
            album_name = album if type(album) is str else None
        elif type(episode_uri := record.get("spotify_episode_uri")) is str and (
            episode_uri.startswith(_EPISODE_PREFIX)
        ):
            kind = ItemKind.EPISODE
            item_id = episode_uri[len(_EPISODE_PREFIX) :]
            name = record.get("episode_name")
            show = record.get("episode_show_name")
            show_name = show if type(show) is str else None
        elif type(
            book_uri := record.get("audiobook_chapter_uri") or record.get("audiobook_uri")
        ) is (str) and book_uri.startswith("spotify:"):
            kind = ItemKind.AUDIOBOOK
            item_id = book_uri.rsplit(":", 1)[-1]
            title = record.get("audiobook_title")
            show_name = title if type(title) is str else None
            name = record.get("audiobook_chapter_title") or title
        else:
            return "no_item"
        if not item_id or len(item_id) > 64:
            return "invalid_uri"
        skipped = record.get("skipped")
        shuffle = record.get("shuffle")
        offline = record.get("offline")
        platform = record.get("platform")
        reason_start = record.get("reason_start")
        reason_end = record.get("reason_end")
        return NormalizedPlay(
            user_id=self._user_id,
            source=PlaySource.EXTENDED_EXPORT,
            item_kind=kind,
            track_id=item_id,
            track_name=name if type(name) is str and name else item_id,
            played_at=played_at,
            ms_played=ms_played,
            artist_ids=artist_ids,
            artist_names=artist_names,
            album_name=album_name,
            show_name=show_name,
            reason_start=reason_start if type(reason_start) is str else None,
            reason_end=reason_end if type(reason_end) is str else None,
            skipped=skipped if type(skipped) is bool else None,
            shuffle=shuffle if type(shuffle) is bool else None,
            offline=offline if type(offline) is bool else None,
            platform=platform if type(platform) is str and platform else None,
            import_job_id=self._import_job_id,
        )

    def account(self, record: Any) -> Outcome:
        """A record of the account data (minute precision, names only, no Spotify IDs)."""
        if type(record) is not dict:
            return "wrong_type"
        end_time = record.get("endTime")
        if type(end_time) is not str:
            return "invalid_timestamp"
        played_at = self._timestamp(end_time.replace(" ", "T", 1) + "Z")
        if type(played_at) is str:
            return played_at
        assert isinstance(played_at, datetime)
        ms_played = record.get("msPlayed")
        if type(ms_played) is not int or not 0 <= ms_played <= LONGEST_PLAY_MS:
            return "invalid_ms_played"
        if "podcastName" in record or "episodeName" in record:
            show, name = record.get("podcastName"), record.get("episodeName")
            if type(show) is not str or type(name) is not str or not name:
                return "invalid_names"
            return self._account_play(
                played_at,
                ms_played,
                kind=ItemKind.EPISODE,
                track_id=local_id("episode", show, name),
                name=name,
                show_name=show,
            )
        artist, name = record.get("artistName"), record.get("trackName")
        if type(artist) is not str or type(name) is not str or not artist or not name:
            return "invalid_names"
        if artist.casefold() == _UNKNOWN_ARTIST and ms_played == 0:
            return "unknown_item"
        return self._account_play(
            played_at,
            ms_played,
            kind=ItemKind.TRACK,
            track_id=local_id(artist, name),
            name=name,
            artist=artist,
        )

    def _account_play(
        self,
        played_at: datetime,
        ms_played: int,
        *,
        kind: ItemKind,
        track_id: str,
        name: str,
        artist: str | None = None,
        show_name: str | None = None,
    ) -> NormalizedPlay:
        return NormalizedPlay(
            user_id=self._user_id,
            source=PlaySource.ACCOUNT_EXPORT,
            item_kind=kind,
            track_id=track_id,
            track_name=name,
            played_at=played_at,
            ms_played=ms_played,
            artist_ids=(self._artist_id(artist),) if artist else (),
            artist_names=(artist,) if artist else (),
            show_name=show_name,
            import_job_id=self._import_job_id,
        )

    def _timestamp(self, value: Any) -> datetime | str:
        """When the play ended, in UTC whole seconds, or the reason the value is unusable."""
        if type(value) is not str:
            return "invalid_timestamp"
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return "invalid_timestamp"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        elif moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        if moment.microsecond:
            moment = moment.replace(microsecond=0)
        if not EARLIEST_PLAY <= moment <= self._latest:
            return "timestamp_out_of_range"
        return moment

    def _artist_id(self, name: str) -> str:
        # sha1 per record would dominate a large import; an export names few artists.
        artist_id = self._artist_ids.get(name)
        if artist_id is None:
            artist_id = self._artist_ids[name] = local_id(name)
        return artist_id
