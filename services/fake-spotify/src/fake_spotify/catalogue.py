"""A deterministic music catalogue: one seed, always the same artists, albums and tracks."""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

BASE62_ALPHABET = string.digits + string.ascii_letters
SPOTIFY_ID_LENGTH = 22

AlbumType = Literal["album", "single", "compilation"]

_ADJECTIVES = (
    "Silver", "Electric", "Quiet", "Golden", "Broken", "Midnight", "Velvet", "Hollow", "Neon",
    "Paper", "Wild", "Crystal", "Burning", "Frozen", "Lonely", "Distant", "Restless", "Gentle",
    "Crimson", "Faded", "Shining", "Lost", "Hidden", "Northern", "Summer", "Winter", "Tender",
    "Cosmic", "Little", "Endless", "Blue", "Amber", "Sleepless", "Static", "Violet", "Empty",
)  # fmt: skip
_NOUNS = (
    "River", "Echo", "Heart", "Signal", "Garden", "Mirror", "Ocean", "Lantern", "Highway",
    "Comet", "Harbor", "Satellite", "Feather", "Window", "Island", "Thunder", "Shadow", "Canyon",
    "Flame", "Orchard", "Horizon", "Avenue", "Compass", "Meadow", "Engine", "Tide", "Forest",
    "Skyline", "Circuit", "Letter", "Wave", "Season", "Dream", "Station", "Moon", "Stone",
)  # fmt: skip
_VERBS = (
    "Chasing", "Holding", "Leaving", "Dancing", "Falling", "Running", "Waiting", "Calling",
    "Dreaming", "Breaking", "Finding", "Burning", "Drifting", "Singing", "Counting", "Crossing",
)  # fmt: skip
_FIRST_NAMES = (
    "Ada", "Milo", "Nora", "Felix", "Ines", "Oskar", "Lena", "Theo", "Maya", "Jonas", "Clara",
    "Luca", "Elif", "Sami", "Yara", "Hugo", "Aiko", "Ravi", "Zoe", "Emil", "Noor", "Tomas",
)  # fmt: skip
_LAST_NAMES = (
    "Lindqvist", "Moreau", "Okafor", "Castell", "Nakamura", "Brandt", "Varga", "Quinn",
    "Delacroix", "Haas", "Rivera", "Sorensen", "Abbott", "Marsh", "Kowalski", "Fontaine",
)  # fmt: skip
_GENRES = (
    "indie pop", "dream pop", "synthwave", "alternative rock", "neo soul", "lo-fi beats",
    "folk", "chamber pop", "shoegaze", "house", "deep house", "jazz fusion", "art pop",
    "post-punk", "hip hop", "r&b", "ambient", "electropop", "singer-songwriter", "krautrock",
)  # fmt: skip
_LABELS = (
    "Northern Lights Records", "Paper Boat Music", "Static Bloom", "Harbor Sound",
    "Velvet Tape", "Open Field Recordings", "Lanternhouse", "Circuit City Music",
)  # fmt: skip
_COUNTRY_CODES = ("US", "GB", "SE", "DE", "FR", "NL", "JP", "CA", "AU", "NO")


@dataclass(frozen=True, slots=True)
class CatalogueArtist:
    """An artist of the fake catalogue."""

    id: str
    name: str
    genres: tuple[str, ...]
    popularity: int
    followers: int
    image_key: str

    @property
    def uri(self) -> str:
        """The `spotify:artist:` URI."""
        return f"spotify:artist:{self.id}"


@dataclass(frozen=True, slots=True)
class CatalogueAlbum:
    """An album, single or compilation of the fake catalogue."""

    id: str
    name: str
    album_type: AlbumType
    artist_ids: tuple[str, ...]
    track_ids: tuple[str, ...]
    release_date: str
    label: str
    upc: str
    popularity: int
    image_key: str

    @property
    def uri(self) -> str:
        """The `spotify:album:` URI."""
        return f"spotify:album:{self.id}"


@dataclass(frozen=True, slots=True)
class CatalogueTrack:
    """A track of the fake catalogue."""

    id: str
    name: str
    album_id: str
    artist_ids: tuple[str, ...]
    duration_ms: int
    track_number: int
    disc_number: int
    explicit: bool
    isrc: str
    popularity: int

    @property
    def uri(self) -> str:
        """The `spotify:track:` URI."""
        return f"spotify:track:{self.id}"


@dataclass(frozen=True, slots=True)
class AudioFeatures:
    """Audio features of a track, derived from its ID so they never change."""

    track_id: str
    duration_ms: int
    acousticness: float
    danceability: float
    energy: float
    instrumentalness: float
    key: int
    liveness: float
    loudness: float
    mode: int
    speechiness: float
    tempo: float
    time_signature: int
    valence: float


@dataclass(slots=True)
class Catalogue:
    """Every artist, album and track the fake knows, with lookups by ID and artist."""

    seed: int
    artists: dict[str, CatalogueArtist] = field(default_factory=dict)
    albums: dict[str, CatalogueAlbum] = field(default_factory=dict)
    tracks: dict[str, CatalogueTrack] = field(default_factory=dict)
    # Artists in order of overall popularity: play generators draw from this with Zipf weights.
    artists_by_rank: list[str] = field(default_factory=list)
    tracks_by_artist: dict[str, list[str]] = field(default_factory=dict)

    def audio_features(self, track_id: str) -> AudioFeatures:
        """Audio features of a catalogue track (KeyError for an unknown ID)."""
        track = self.tracks[track_id]
        rng = random.Random(f"audio-features:{track_id}")  # noqa: S311 - deterministic, not secret
        return AudioFeatures(
            track_id=track_id,
            duration_ms=track.duration_ms,
            acousticness=round(rng.random(), 4),
            danceability=round(rng.uniform(0.2, 0.95), 3),
            energy=round(rng.uniform(0.1, 0.98), 3),
            instrumentalness=round(rng.random() ** 3, 4),
            key=rng.randint(-1, 11),
            liveness=round(rng.uniform(0.03, 0.6), 4),
            loudness=round(rng.uniform(-20.0, -2.0), 3),
            mode=rng.randint(0, 1),
            speechiness=round(rng.uniform(0.02, 0.4), 4),
            tempo=round(rng.uniform(60.0, 180.0), 3),
            time_signature=rng.choice((3, 4, 4, 4, 5)),
            valence=round(rng.random(), 3),
        )

    def search_tracks(self, terms: Sequence[str], filters: dict[str, str]) -> list[CatalogueTrack]:
        """Tracks whose name, artist or album contains every term and matches every filter."""
        found = []
        for track in self.tracks.values():
            album = self.albums[track.album_id]
            artist_names = [self.artists[a].name.lower() for a in track.artist_ids]
            if not _filters_match(
                filters,
                track=track.name.lower(),
                artist=artist_names,
                album=album.name.lower(),
                isrc=track.isrc.lower(),
                year=album.release_date[:4],
            ):
                continue
            haystack = " ".join([track.name.lower(), album.name.lower(), *artist_names])
            if all(term in haystack for term in terms):
                found.append(track)
        return sorted(found, key=lambda t: -t.popularity)

    def search_artists(
        self, terms: Sequence[str], filters: dict[str, str]
    ) -> list[CatalogueArtist]:
        """Artists whose name contains every term and matches the artist and genre filters."""
        found = []
        for artist in self.artists.values():
            name = artist.name.lower()
            if not _filters_match(filters, artist=[name], genre=[g.lower() for g in artist.genres]):
                continue
            if all(term in name for term in terms):
                found.append(artist)
        return sorted(found, key=lambda a: -a.popularity)

    def search_albums(self, terms: Sequence[str], filters: dict[str, str]) -> list[CatalogueAlbum]:
        """Albums whose name or artist contains every term and matches every filter."""
        found = []
        for album in self.albums.values():
            artist_names = [self.artists[a].name.lower() for a in album.artist_ids]
            if not _filters_match(
                filters,
                album=album.name.lower(),
                artist=artist_names,
                upc=album.upc,
                year=album.release_date[:4],
            ):
                continue
            haystack = " ".join([album.name.lower(), *artist_names])
            if all(term in haystack for term in terms):
                found.append(album)
        return sorted(found, key=lambda a: -a.popularity)


def _filters_match(filters: dict[str, str], **fields: str | list[str]) -> bool:
    """True when every field filter the search understands for this type is satisfied."""
    for name, wanted in filters.items():
        if name not in fields:
            # Spotify ignores filters that do not apply to a type; so does the fake.
            continue
        value = fields[name]
        if name == "year" and isinstance(value, str):
            if not _year_matches(wanted, value):
                return False
        elif isinstance(value, list):
            if not any(wanted in item for item in value):
                return False
        elif wanted not in value:
            return False
    return True


def _year_matches(wanted: str, year: str) -> bool:
    """Match `year:1999` or a range such as `year:1990-1999`."""
    if "-" in wanted:
        low, _, high = wanted.partition("-")
        return low <= year <= high
    return year == wanted


def random_base62_id(rng: random.Random, length: int = SPOTIFY_ID_LENGTH) -> str:
    """A Spotify-style base62 ID drawn from the given generator."""
    return "".join(rng.choices(BASE62_ALPHABET, k=length))


def is_base62_id(value: str) -> bool:
    """True when the value looks like a Spotify ID (22 base62 characters)."""
    return len(value) == SPOTIFY_ID_LENGTH and all(c in BASE62_ALPHABET for c in value)


def build_catalogue(seed: int, artist_count: int = 240) -> Catalogue:
    """Generate the catalogue for a seed; equal seeds give equal catalogues."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible catalogue, not a secret
    catalogue = Catalogue(seed=seed)
    used_ids: set[str] = set()

    def new_id() -> str:
        while True:
            candidate = random_base62_id(rng)
            if candidate not in used_ids:
                used_ids.add(candidate)
                return candidate

    artist_names = _unique_names(rng, artist_count, _artist_name)
    for rank, name in enumerate(artist_names):
        # Popularity falls with rank so the catalogue has a few stars and a long tail.
        popularity = max(5, 92 - int(rank * 85 / max(1, artist_count - 1)) + rng.randint(-4, 4))
        artist = CatalogueArtist(
            id=new_id(),
            name=name,
            genres=tuple(rng.sample(_GENRES, k=rng.choice((0, 1, 2, 2, 3)))),
            popularity=min(100, popularity),
            followers=int(popularity**3.2 * rng.uniform(0.5, 1.5)),
            image_key=_image_key(rng),
        )
        catalogue.artists[artist.id] = artist
        catalogue.artists_by_rank.append(artist.id)
        catalogue.tracks_by_artist[artist.id] = []

    artist_ids = list(catalogue.artists_by_rank)
    for artist_id in artist_ids:
        artist = catalogue.artists[artist_id]
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            _add_album(catalogue, rng, new_id, artist, artist_ids)
    return catalogue


def _add_album(
    catalogue: Catalogue,
    rng: random.Random,
    new_id: Callable[[], str],
    artist: CatalogueArtist,
    all_artist_ids: Sequence[str],
) -> None:
    album_type: AlbumType = rng.choices(("album", "single", "compilation"), weights=(6, 3, 1))[0]
    track_count = {"album": rng.randint(7, 14), "single": rng.randint(1, 3)}.get(
        album_type, rng.randint(10, 18)
    )
    year = rng.randint(1994, 2026)
    release_date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    album_id = new_id()
    country = rng.choice(_COUNTRY_CODES)
    registrant = "".join(rng.choices(string.ascii_uppercase + string.digits, k=3))
    track_ids: list[str] = []
    for number in range(1, track_count + 1):
        artist_ids: tuple[str, ...] = (artist.id,)
        if rng.random() < 0.15:
            # A featured guest: the second artist of a track is what makes track_artists ordered.
            guest = rng.choice(all_artist_ids)
            if guest != artist.id:
                artist_ids = (artist.id, guest)
        track = CatalogueTrack(
            id=new_id(),
            name=_track_name(rng),
            album_id=album_id,
            artist_ids=artist_ids,
            duration_ms=int(rng.triangular(95_000, 420_000, 205_000)),
            track_number=number,
            disc_number=1,
            explicit=rng.random() < 0.2,
            isrc=f"{country}{registrant}{year % 100:02d}{rng.randint(0, 99_999):05d}",
            popularity=max(0, min(100, artist.popularity + rng.randint(-25, 8))),
        )
        catalogue.tracks[track.id] = track
        for artist_id in artist_ids:
            catalogue.tracks_by_artist[artist_id].append(track.id)
        track_ids.append(track.id)
    name = _track_name(rng) if album_type == "single" and rng.random() < 0.5 else _album_name(rng)
    catalogue.albums[album_id] = CatalogueAlbum(
        id=album_id,
        name=name,
        album_type=album_type,
        artist_ids=(artist.id,),
        track_ids=tuple(track_ids),
        release_date=release_date,
        label=rng.choice(_LABELS),
        upc="".join(rng.choices(string.digits, k=12)),
        popularity=max(0, min(100, artist.popularity + rng.randint(-15, 5))),
        image_key=_image_key(rng),
    )


def _unique_names(
    rng: random.Random, count: int, make: Callable[[random.Random], str]
) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = make(rng)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _artist_name(rng: random.Random) -> str:
    pattern = rng.randint(0, 4)
    if pattern == 0:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
    if pattern == 1:
        return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
    if pattern == 2:
        return f"{rng.choice(_NOUNS)} {rng.choice(_NOUNS)}"
    if pattern == 3:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    return f"{rng.choice(_FIRST_NAMES)} & the {rng.choice(_NOUNS)}s"


def _track_name(rng: random.Random) -> str:
    pattern = rng.randint(0, 4)
    if pattern == 0:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if pattern == 1:
        return f"{rng.choice(_VERBS)} the {rng.choice(_NOUNS)}"
    if pattern == 2:
        return f"{rng.choice(_NOUNS)} of {rng.choice(_NOUNS)}s"
    if pattern == 3:
        return f"{rng.choice(_VERBS)} {rng.choice(_ADJECTIVES)}"
    return f"{rng.choice(_NOUNS)}"


def _album_name(rng: random.Random) -> str:
    pattern = rng.randint(0, 2)
    if pattern == 0:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
    if pattern == 1:
        return f"The {rng.choice(_NOUNS)} Sessions"
    return f"{rng.choice(_NOUNS)} & {rng.choice(_NOUNS)}"


def _image_key(rng: random.Random) -> str:
    # Real cover IDs are 40 hex digits starting with a size prefix such as ab67616d0000b273.
    return "".join(rng.choices("0123456789abcdef", k=24))
