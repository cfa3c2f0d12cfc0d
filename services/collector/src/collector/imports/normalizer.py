"""`RecordNormalizer`: one export record to a play (or play row), or why it is skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.db.enums import ItemKind, PlaySource
from shared.plays.model import NormalizedPlay, local_id
from shared.plays.writer import ItemRow, PlayRow, clip

# Spotify launched in 2008; anything earlier (1970 above all) is a broken clock.
EARLIEST_PLAY = datetime(2008, 1, 1, tzinfo=UTC)
# Longer than any single sitting; a bigger ms_played is a corrupt counter.
LONGEST_PLAY_MS = 24 * 60 * 60 * 1000

# Distinct short texts (platforms, reasons) kept for sharing between rows, at most.
_MAX_SHARED_TEXTS = 10_000

# Rows Spotify itself writes without a playable item: skipped, but not a sign of bad data.
EXPECTED_SKIP_REASONS = frozenset({"no_item", "unknown_item"})

_TRACK_PREFIX = "spotify:track:"
_EPISODE_PREFIX = "spotify:episode:"
_TRACK_PREFIX_LENGTH = len(_TRACK_PREFIX)
_EPISODE_PREFIX_LENGTH = len(_EPISODE_PREFIX)
_UNKNOWN_ARTIST = "unknown artist"
_TRACK = ItemKind.TRACK.value
_EPISODE = ItemKind.EPISODE.value
_AUDIOBOOK = ItemKind.AUDIOBOOK.value

Outcome = NormalizedPlay | PlayRow | str
"""A play (account data), a play row (extended history), or why the record was skipped."""


class RecordNormalizer:
    """Turns extended and account-data records of one user's import into plays.

    Personal fields (username, ip_addr*, user_agent*) are never read, so never stored.
    """

    def __init__(self, *, user_id: int, import_job_id: int | None, now: datetime) -> None:
        self._user_id = user_id
        self._import_job_id = import_job_id
        self._latest = now + timedelta(days=1)
        self._artist_ids: dict[str, str] = {}
        self.items: dict[str, ItemRow] = {}
        """The item of every play row returned so far, by track id."""
        self._new_items: list[ItemRow] = []
        self._texts: dict[str, str] = {}

    def take_new_items(self) -> list[ItemRow]:
        """The items first named since the last call, in the order they were met."""
        new_items, self._new_items = self._new_items, []
        return new_items

    def extended(self, record: Any) -> PlayRow | str:
        """A record of the extended history (current or legacy endsong format) as the row
        `PlayWriter.write_rows` stores; its item joins `items` (and the new items) when
        first seen."""
        if type(record) is not dict:
            return "wrong_type"
        get = record.get
        played_at = self._timestamp(get("ts"))
        if type(played_at) is str:
            return played_at
        ms_played = get("ms_played")
        if type(ms_played) is not int or not 0 <= ms_played <= LONGEST_PLAY_MS:
            return "invalid_ms_played"
        track_uri = get("spotify_track_uri")
        if type(track_uri) is str and track_uri.startswith(_TRACK_PREFIX):
            kind = _TRACK
            item_id = track_uri[_TRACK_PREFIX_LENGTH:]
        elif type(episode_uri := get("spotify_episode_uri")) is str and (
            episode_uri.startswith(_EPISODE_PREFIX)
        ):
            kind = _EPISODE
            item_id = episode_uri[_EPISODE_PREFIX_LENGTH:]
        elif type(book_uri := get("audiobook_chapter_uri") or get("audiobook_uri")) is (
            str
        ) and book_uri.startswith("spotify:"):
            kind = _AUDIOBOOK
            item_id = book_uri.rsplit(":", 1)[-1]
        else:
            return "no_item"
        item = self.items.get(item_id)
        if item is None:
            if not item_id or len(item_id) > 64 or "\x00" in item_id:
                return "invalid_uri"
            item = self.items[item_id] = self._extended_item(record, kind, item_id)
            self._new_items.append(item)
        # Rows share one string object per track and per short text: a batch of 50,000
        # rows then holds tens of megabytes less.
        item_id = item.row[0]
        skipped = get("skipped")
        shuffle = get("shuffle")
        offline = get("offline")
        return (
            item_id,
            played_at,
            ms_played,
            kind,
            None,
            None,
            self._shared_text(get("reason_start"), 64),
            self._shared_text(get("reason_end"), 64),
            skipped if type(skipped) is bool else None,
            shuffle if type(shuffle) is bool else None,
            offline if type(offline) is bool else None,
            self._shared_text(get("platform") or None, 255),
        )

    def _shared_text(self, value: Any, length: int) -> str | None:
        """A text value clipped to its column (None if it is no text), one object per
        distinct text while there are few of them."""
        if type(value) is not str:
            return None
        shared = self._texts.get(value)
        if shared is None:
            shared = _without_nul(value)[:length]
            if len(self._texts) < _MAX_SHARED_TEXTS:
                self._texts[value] = shared
        return shared

    def _extended_item(self, record: dict[str, Any], kind: str, item_id: str) -> ItemRow:
        """The item of an extended record, from the first record that names it."""
        get = record.get
        artists: tuple[tuple[str, str], ...] = ()
        album_name = show_name = None
        if kind == _TRACK:
            name = _text(get("master_metadata_track_name"))
            artist = _text(get("master_metadata_album_artist_name"))
            if artist:
                artists = ((self._artist_id(artist), artist[:512]),)
            album_name = _text(get("master_metadata_album_album_name"))
        elif kind == _EPISODE:
            name = _text(get("episode_name"))
            show_name = _text(get("episode_show_name"))
        else:
            show_name = _text(get("audiobook_title"))
            name = _text(get("audiobook_chapter_title")) or show_name
        track_name = name or item_id
        return ItemRow(
            row=(
                item_id,
                kind,
                track_name[:512],
                None,
                clip(album_name, 512),
                clip(show_name, 512),
                None,
                None,
                None,
            ),
            artists=artists,
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
            show, name = _text(record.get("podcastName")), _text(record.get("episodeName"))
            if show is None or not name:
                return "invalid_names"
            return self._account_play(
                played_at,
                ms_played,
                kind=ItemKind.EPISODE,
                track_id=local_id("episode", show, name),
                name=name,
                show_name=show,
            )
        artist, name = _text(record.get("artistName")), _text(record.get("trackName"))
        if not artist or not name:
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


def _text(value: Any) -> str | None:
    """A text field of a record (None for anything else), NUL characters replaced:
    PostgreSQL cannot store them, and no name of Spotify's has them."""
    return _without_nul(value) if type(value) is str else None


def _without_nul(value: str) -> str:
    return value.replace("\x00", "\ufffd") if "\x00" in value else value
