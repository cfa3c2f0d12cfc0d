"""Fixtures for the fake Spotify's tests: the live server and Spotify's OpenAPI description."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from fake_spotify import FakeSpotifyServer
from testkit.spotify import TEST_CLIENT_ID

SPEC_PATH = Path(__file__).parent / "spotify-web-api" / "fixed-spotify-open-api.yml"
SPEC_URI = "urn:spotify-web-api"

# The token endpoint belongs to the Accounts service, which the Web API description does
# not cover; these schemas follow Spotify's authorization guides (see OVERRIDES.md, 6).
_TOKEN_SCHEMAS: dict[str, Any] = {
    "TokenResponse": {
        "type": "object",
        "additionalProperties": False,
        "required": ["access_token", "token_type", "scope", "expires_in"],
        "properties": {
            "access_token": {"type": "string", "minLength": 1},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "scope": {"type": "string"},
            "expires_in": {"type": "integer"},
            "refresh_token": {"type": "string", "minLength": 1},
        },
    },
    "TokenErrorResponse": {
        "type": "object",
        "additionalProperties": False,
        "required": ["error", "error_description"],
        "properties": {
            "error": {
                "type": "string",
                "enum": [
                    "invalid_request",
                    "invalid_client",
                    "invalid_grant",
                    "unauthorized_client",
                    "unsupported_grant_type",
                    "invalid_scope",
                ],
            },
            "error_description": {"type": "string"},
        },
    },
}


def apply_overrides(spec: dict[str, Any]) -> dict[str, Any]:
    """The description with the documented overrides of OVERRIDES.md applied."""
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]

    # 1. A play-history item's context is null when the play had none.
    schemas["PlayHistoryObject"]["properties"]["context"] = _nullable(schemas, "ContextObject")

    # 2. Development Mode no longer sends available_markets on albums.
    schemas["AlbumBase"]["required"].remove("available_markets")

    # 3. Development Mode drops the deprecated label and popularity of a full album.
    for dropped in ("label", "popularity"):
        schemas["AlbumObject"]["required"].remove(dropped)

    # 4. An empty recently-played page has null cursors and a null next link.
    cursor_paging = schemas["CursorPagingObject"]["properties"]
    cursor_paging["cursors"] = _nullable(schemas, "CursorObject")
    cursor_paging["next"]["nullable"] = True

    # 5. Playlist items discriminate on `type` without a mapping; the implicit mapping would
    #    look for schemas literally named "track" and "episode".
    for name in ("item", "track"):
        schemas["PlaylistTrackObject"]["properties"][name]["discriminator"]["mapping"] = {
            "track": "#/components/schemas/TrackObject",
            "episode": "#/components/schemas/EpisodeObject",
        }

    # 6. The Accounts token endpoint's bodies.
    schemas.update(copy.deepcopy(_TOKEN_SCHEMAS))
    return spec


def _nullable(schemas: dict[str, Any], name: str) -> dict[str, Any]:
    # OpenAPI 3.0 ignores `nullable` beside an `allOf` reference, so the referenced schema
    # is inlined with `nullable: true` instead.
    return {**copy.deepcopy(schemas[name]), "nullable": True}


class SpotifyOpenApi:
    """Spotify's Web API description, with overrides, as response validators."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)

    def response_schema_pointer(self, path: str, method: str, status: int) -> str:
        """The JSON pointer to the schema of an operation's documented response."""
        operation = self.spec["paths"][path][method.lower()]
        response = operation["responses"][str(status)]
        pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
        return f"{pointer}/content/application~1json/schema"

    def validate(self, pointer: str, body: Any) -> None:
        """Validate a body against the schema at a JSON pointer in the description."""
        validator = OAS30Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            details = "\n".join(
                f"  at {'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
                for e in errors[:10]
            )
            raise AssertionError(f"response does not match {pointer}:\n{details}")

    def validate_response(self, path: str, method: str, response: httpx.Response) -> None:
        """Validate a response against the operation's documented status and body."""
        operation = self.spec["paths"][path][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {path}: {status} is not documented"
        self.validate(
            self.response_schema_pointer(path, method, response.status_code), response.json()
        )

    def validate_error(self, response: httpx.Response) -> None:
        """Validate a Web API error body against the description's error responses."""
        names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
        name = names.get(response.status_code, "TooManyRequests")
        pointer = f"/components/responses/{name}/content/application~1json/schema"
        self.validate(pointer, response.json())
        assert response.json()["error"]["status"] == response.status_code

    def validate_schema(self, schema_name: str, body: Any) -> None:
        """Validate a body against a named component schema."""
        self.validate(f"/components/schemas/{schema_name}", body)


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


@pytest.fixture(scope="session")
def openapi() -> SpotifyOpenApi:
    """Spotify's Web API description with the documented overrides applied."""
    with SPEC_PATH.open() as spec_file:
        spec = yaml.load(spec_file, Loader=yaml.CSafeLoader)
    return SpotifyOpenApi(apply_overrides(spec))


@pytest.fixture
def http(fake_spotify: FakeSpotifyServer) -> Iterator[httpx.Client]:
    """A plain HTTP client for the running fake (redirects are not followed)."""
    with httpx.Client(base_url=fake_spotify.base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def demo_headers(fake_spotify: FakeSpotifyServer) -> dict[str, str]:
    """Authorization headers for the demo user, with every scope."""
    grant = fake_spotify.state.issue_tokens("demo", TEST_CLIENT_ID)
    return {"Authorization": f"Bearer {grant.access_token}"}
