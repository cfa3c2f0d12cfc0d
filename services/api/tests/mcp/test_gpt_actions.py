"""`/gpt/openapi.json`: valid OpenAPI 3.1 that ChatGPT accepts, and every operation works."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from app.mcp.gpt import MAX_DESCRIPTION, MAX_OPERATIONS

from .conftest import ADMIN, API_BASE_URL, OTHER_TOKEN, Library

# Arguments each operation needs beyond user_id to be callable in a test.
EXTRA_ARGS: dict[str, dict[str, Any]] = {
    "spotify.search": {"query": "love"},
    "spotify.create_playlist": {"name": "Test"},
    "history.first_listen": {"artist": "Alpha"},
    "history.compare_periods": {
        "a_start": "2024-03-01",
        "a_end": "2024-03-05",
        "b_start": "2024-03-06",
        "b_end": "2024-03-31",
    },
}
# Live Spotify operations are exercised against the fake in test_spotify_tools.py.
NEEDS_SPOTIFY_LOGIN = {"spotify.get_top", "spotify.search", "spotify.create_playlist"}


async def _document(tools: httpx.AsyncClient) -> dict[str, Any]:
    response = await tools.get("/gpt/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, item["post"]) for path, item in document["paths"].items()]


class TestDocument:
    async def test_validates_as_openapi_3_1(self, tools: httpx.AsyncClient) -> None:
        document = await _document(tools)
        assert document["openapi"].startswith("3.1")
        validate(document)

    async def test_within_chatgpt_limits(self, tools: httpx.AsyncClient) -> None:
        document = await _document(tools)
        operations = _operations(document)
        assert 13 <= len(operations) <= MAX_OPERATIONS
        ids = [operation["operationId"] for _, operation in operations]
        assert len(ids) == len(set(ids))
        for _, operation in operations:
            assert operation["operationId"].replace("_", "").replace("-", "").isalnum()
            assert len(operation["summary"]) < MAX_DESCRIPTION
            assert 0 < len(operation["description"]) <= MAX_DESCRIPTION
            assert isinstance(operation["x-openai-isConsequential"], bool)

    async def test_only_writes_are_consequential(self, tools: httpx.AsyncClient) -> None:
        document = await _document(tools)
        consequential = {
            path.rsplit("/", 1)[-1]
            for path, operation in _operations(document)
            if operation["x-openai-isConsequential"]
        }
        assert consequential == {"spotify.create_playlist"}

    async def test_parameters_are_flat_and_typed(self, tools: httpx.AsyncClient) -> None:
        document = await _document(tools)
        for path, operation in _operations(document):
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert schema["type"] == "object", path
            assert schema["properties"], path
            assert schema.get("additionalProperties") is False, path
            for name, prop in schema["properties"].items():
                kinds = [prop.get("type")] + [o.get("type") for o in prop.get("anyOf", [])]
                assert "object" not in kinds, f"{path}: {name} is a free-form object"
                assert prop.get("type") or prop.get("anyOf") or prop.get("$ref"), (path, name)

    async def test_servers_come_from_the_public_base_url(self, tools: httpx.AsyncClient) -> None:
        document = await _document(tools)
        assert document["servers"] == [{"url": API_BASE_URL}]
        assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


class TestRoundTrip:
    async def test_every_operation_answers_as_described(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        document = await _document(tools)
        called = 0
        for path, operation in _operations(document):
            tool = path.rsplit("/", 1)[-1]
            if tool in NEEDS_SPOTIFY_LOGIN:
                continue
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            args: dict[str, Any] = dict(EXTRA_ARGS.get(tool, {}))
            if "user_id" in body["properties"]:
                args["user_id"] = library.listener.id
            response = await tools.post(path, json=args, headers=ADMIN)
            assert response.status_code == 200, (path, response.text)
            schema = dict(operation["responses"]["200"]["content"]["application/json"]["schema"])
            schema["components"] = document["components"]
            jsonschema.validate(
                response.json(), _resolve_refs(schema), cls=jsonschema.Draft202012Validator
            )
            called += 1
        assert called >= 10

    async def test_spotify_operations_reach_the_tool(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        document = await _document(tools)
        for path, _operation in _operations(document):
            tool = path.rsplit("/", 1)[-1]
            if tool not in NEEDS_SPOTIFY_LOGIN:
                continue
            args = {"user_id": library.listener.id, **EXTRA_ARGS.get(tool, {})}
            response = await tools.post(path, json=args, headers=ADMIN)
            # The listener logged in with no Spotify account: the tool says so.
            assert response.status_code == 409, (path, response.text)
            assert response.json()["error"]["code"] == "no_spotify_login"

    async def test_errors_use_the_documented_envelope(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        invalid = await tools.post(
            "/gpt/tools/history.top_artists",
            json={"user_id": library.listener.id, "limit": 1000},
            headers=ADMIN,
        )
        assert invalid.status_code == 422
        assert invalid.json()["error"]["code"] == "invalid_arguments"
        unknown = await tools.post("/gpt/tools/history.nothing", json={}, headers=ADMIN)
        assert unknown.status_code == 404

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
    async def test_operations_need_a_token(
        self, tools: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await tools.post("/gpt/tools/ops.list_users", json={}, headers=headers)
        assert response.status_code == 401

    async def test_a_user_token_cannot_reach_another_user(
        self, tools: httpx.AsyncClient, library: Library
    ) -> None:
        response = await tools.post(
            "/gpt/tools/history.top_tracks",
            json={"user_id": library.listener.id},
            headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
        )
        assert response.status_code == 403


def _resolve_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `#/components/schemas/...` references so jsonschema needs no registry."""
    components = schema.pop("components")["schemas"]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                return walk(components[ref.rsplit("/", 1)[-1]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    resolved: dict[str, Any] = walk(schema)
    return resolved
