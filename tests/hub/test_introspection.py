"""Introspection policy: in production, anonymous callers cannot read the schema; a token,
or development mode, can."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from core.config import Settings, get_settings
from core.notify import OutboxNotifier
from hub.app import create_app
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio

SCHEMA_READS = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Member") { name } }',
    "{ _service { sdl } }",
    "query { ...F } fragment F on Query { __schema { types { name } } }",
    'query { catalog(first: 1) { edges { node { ... on CatalogItem { __typename } } } } __type(name: "Partner") { name } }',
]
REFUSAL = {
    "message": "introspection needs an access token here; the published schema is "
    "schema/schema.graphql",
    "extensions": {"code": "UNAUTHENTICATED"},
}


@pytest.fixture
async def production(database_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    settings = dataclasses.replace(get_settings(), environment="production")
    outbox = OutboxNotifier(tmp_path / "notifications.jsonl")
    app = create_app(database_url, settings=settings, notifier=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Hub(app, http, outbox)


@pytest.mark.parametrize("query", SCHEMA_READS)
async def test_anonymous_callers_cannot_read_the_schema_in_production(
    production: Hub, query: str
) -> None:
    response = await production.http.post(
        "/graphql",
        json={"query": query},
        headers={"Accept": "application/graphql-response+json"},
    )

    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    assert [{"message": e["message"], "extensions": e["extensions"]} for e in body["errors"]] == [
        REFUSAL
    ]


async def test_a_token_keeps_introspection_in_production(production: Hub) -> None:
    await production.partner()
    token = await production.access_token(await production.client())

    response = await production.http.post(
        "/graphql",
        json={"query": '{ __type(name: "Member") { name } _service { sdl } }'},
        headers={"Authorization": f"Bearer {token}"},
    )

    data = response.json()["data"]
    assert data["__type"] == {"name": "Member"}
    assert "type Member" in data["_service"]["sdl"]


async def test_typename_and_ordinary_queries_stay_open_in_production(production: Hub) -> None:
    response = await production.http.post(
        "/graphql", json={"query": "{ __typename catalog(first: 1) { edges { cursor } } }"}
    )

    assert response.json() == {"data": {"__typename": "Query", "catalog": {"edges": []}}}


async def test_development_keeps_introspection_for_anonymous_callers(hub: Hub) -> None:
    response = await hub.http.post(
        "/graphql", json={"query": "{ __schema { queryType { name } } }"}
    )

    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_hub_env_is_development_by_default_and_checked() -> None:
    assert Settings.from_env({"HUB_SECRET_KEY": "k"}).production is False
    assert Settings.from_env({"HUB_SECRET_KEY": "k", "HUB_ENV": "production"}).production is True
    with pytest.raises(ValueError, match="HUB_ENV must be one of development, production"):
        Settings.from_env({"HUB_SECRET_KEY": "k", "HUB_ENV": "prod"})
