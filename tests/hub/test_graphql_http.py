"""GraphQL over HTTP as the hub serves it: media types, request errors, limits, masking."""

from __future__ import annotations

import logging

import httpx2
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route

from hub.graphql_http import GRAPHQL_RESPONSE_JSON, MAX_BODY_BYTES, GraphQLEndpoint, HubGraphQL
from schema.limits import MAX_DEPTH
from schema.root import request_limits
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio

NEW = {"Accept": GRAPHQL_RESPONSE_JSON}


async def _post(hub: Hub, query: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return await hub.http.post("/graphql", json={"query": query}, headers=headers or {})


async def test_a_query_answers_in_the_media_type_asked_for(hub: Hub) -> None:
    new = await _post(hub, "{ apiVersion }", NEW)
    legacy = await _post(hub, "{ apiVersion }", {"Accept": "application/json"})

    assert (new.status_code, new.headers["content-type"]) == (
        200,
        "application/graphql-response+json; charset=utf-8",
    )
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, "application/json")
    assert new.json() == legacy.json() == {"data": {"apiVersion": "0.1.0"}}


async def test_a_syntax_error_is_400_without_data_under_graphql_response_json(hub: Hub) -> None:
    response = await _post(hub, "{ apiVersion", NEW)

    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_a_syntax_error_under_application_json_is_200_with_null_data(hub: Hub) -> None:
    response = await _post(hub, "{ apiVersion", {"Accept": "application/json"})

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_an_unknown_field_fails_validation_without_suggestions(hub: Hub) -> None:
    response = await _post(hub, "{ apiVersio }", NEW)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["message"] == "Cannot query field 'apiVersio' on type 'Query'."
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_an_unacceptable_media_type_is_406(hub: Hub) -> None:
    response = await _post(hub, "{ apiVersion }", {"Accept": "text/html"})

    assert response.status_code == 406


async def test_queries_work_over_get(hub: Hub) -> None:
    response = await hub.http.get("/graphql", params={"query": "{ apiVersion }"}, headers=NEW)

    assert response.json() == {"data": {"apiVersion": "0.1.0"}}


async def test_batches_are_refused(hub: Hub) -> None:
    response = await hub.http.post(
        "/graphql", json=[{"query": "{ apiVersion }"}, {"query": "{ apiVersion }"}], headers=NEW
    )

    assert response.status_code == 400


async def test_a_body_over_the_cap_is_413(hub: Hub) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)

    response = await hub.http.post(
        "/graphql",
        content=f'{{"query": "{{ apiVersion }}", "pad": "{padding}"}}',
        headers={**NEW, "content-type": "application/json"},
    )

    assert response.status_code == 413


async def test_a_streamed_body_over_the_cap_is_413(hub: Hub) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"query": "{ apiVersion }", "pad": "'
        for _ in range(MAX_BODY_BYTES // 8192 + 2):
            yield b"x" * 8192
        yield b'"}'

    response = await hub.http.post(
        "/graphql", content=chunks(), headers={**NEW, "content-type": "application/json"}
    )

    assert response.status_code == 413


async def test_too_many_aliases_are_refused(hub: Hub) -> None:
    aliases = " ".join(f"a{i}: apiVersion" for i in range(16))

    response = await _post(hub, f"{{ {aliases} }}", NEW)

    assert response.status_code == 400
    assert "aliases" in response.json()["errors"][0]["message"]


async def test_too_many_tokens_are_refused(hub: Hub) -> None:
    many = " ".join("apiVersion" for _ in range(2_100))

    response = await _post(hub, f"{{ {many} }}", NEW)

    assert response.status_code == 400
    assert "token" in response.json()["errors"][0]["message"].lower()


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def children(self, first: int = 20) -> list[Item]:
        return []


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int = 20) -> list[Item]:
        return [Item(name="a")]

    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("SELECT phone FROM members WHERE id = 42")


def _inline_app() -> Starlette:
    schema = strawberry.Schema(query=Query, extensions=request_limits())
    app = Starlette(routes=[Route("/graphql", GraphQLEndpoint(HubGraphQL(schema)))])
    app.state.database = None
    return app


async def _inline(query: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=_inline_app())
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.post("/graphql", json={"query": query}, headers=NEW)


async def test_the_cost_limit_multiplies_nested_pages() -> None:
    cheap = await _inline("{ items(first: 50) { name children(first: 50) { name } } }")
    costly = await _inline("{ items(first: 100) { name children(first: 100) { name } } }")

    assert cheap.status_code == 200
    assert costly.status_code == 400
    assert costly.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 10_201,
        "limit": 5_000,
    }


async def test_a_query_deeper_than_the_limit_is_refused() -> None:
    def nested(levels: int) -> str:
        return (
            "{ items(first: 1) "
            + "{ children(first: 1) " * levels
            + "{ name }"
            + " }" * levels
            + " }"
        )

    allowed = await _inline(nested(MAX_DEPTH - 2))
    refused = await _inline(nested(MAX_DEPTH))

    assert allowed.status_code == 200
    assert refused.status_code == 400
    assert "exceeds maximum operation depth" in refused.json()["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged_with_an_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="alliance_hub")

    response = await _inline("{ broken }")

    error = response.json()["errors"][0]
    assert response.status_code == 200
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "SELECT" not in response.text
    assert error["extensions"]["errorId"] in caplog.text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("alliance_hub"))
    assert "builtins.RuntimeError at test_graphql_http.py:" in ours
    assert "SELECT" not in ours


async def test_the_access_log_line_names_client_operation_and_error_id_only(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alliance_hub.access")
    await hub.partner()
    client = await hub.client()
    token = await hub.access_token(client)

    await hub.http.post(
        "/graphql?access_token=" + token,
        json={"query": "query Who { viewer { kind } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    await hub.http.post("/graphql", json={"query": "{ apiVersion }", "operationName": "x y"})
    await hub.http.get("/graphql/" + token)

    lines = [r.getMessage() for r in caplog.records if r.name == "alliance_hub.access"]
    assert lines[-3].startswith("POST /graphql 200 ")
    assert lines[-3].endswith(f"client={client.client_id} operation=Who error=-")
    assert lines[-2].endswith("client=- operation=- error=-")
    assert lines[-1].startswith("GET (unknown) 404 ")
    assert all(token not in line for line in lines)
