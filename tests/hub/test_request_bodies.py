"""Every body gets a JSON answer: malformed requests are 400 with a GraphQL-shaped error,
and anything unexpected, anywhere in the stack, a JSON 500 with an error id logged once."""

from __future__ import annotations

import logging

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.graphql_http import GRAPHQL_RESPONSE_JSON, MAX_JSON_DEPTH
from hub.logs import AccessLog
from hub.oauth2.bearer import BearerTokens
from hub.unexpected import CatchUnexpected, describe
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio

SECRET = "ahs_s3cr3t-in-the-exception-message"


def _bad_request(message: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"null", "the body must be a JSON object"),
        (b'"{ apiVersion }"', "the body must be a JSON object"),
        (b"42", "the body must be a JSON object"),
        (b"true", "the body must be a JSON object"),
        (b"[]", "batching is not enabled: send one operation"),
        (b"\xff\xfe{}", "not valid JSON in UTF-8"),
        ('{"query": "{ apiVersion }"}'.encode("utf-16"), "not valid JSON in UTF-8"),
        (b"", "not valid JSON in UTF-8"),
        (b"{", "not valid JSON in UTF-8"),
        (b'{"query": "{ apiVersion }", "variables": {"n": NaN}}', "not valid JSON in UTF-8"),
        (b"[" * 5000 + b"]" * 5000, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        (
            b'{"query": "{ apiVersion }", "variables": {"v": ' + b"[" * 40 + b"]" * 40 + b"}}",
            f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
        ),
        (b'{"query": 1}', "query must be a string or null"),
        (b'{"query": ["{ apiVersion }"]}', "query must be a string or null"),
        (b'{"query": "{ apiVersion }", "variables": "{}"}', "variables must be an object or null"),
        (b'{"query": "{ apiVersion }", "variables": [1]}', "variables must be an object or null"),
        (
            b'{"query": "{ apiVersion }", "operationName": 3}',
            "operationName must be a string or null",
        ),
        (
            b'{"query": "{ apiVersion }", "operationName": {}}',
            "operationName must be a string or null",
        ),
        (b'{"query": "{ apiVersion }", "extensions": 3}', "extensions must be an object or null"),
    ],
)
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, "application/json"])
async def test_a_malformed_body_is_400_with_a_graphql_shaped_error(
    hub: Hub, body: bytes, message: str, accept: str
) -> None:
    response = await hub.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json", "Accept": accept}
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    assert response.json() == _bad_request(message)


async def test_a_body_that_is_not_json_is_415(hub: Hub) -> None:
    response = await hub.http.post(
        "/graphql", content=b"{ apiVersion }", headers={"Content-Type": "application/graphql"}
    )

    assert response.status_code == 415
    assert response.json() == _bad_request("send the operation as application/json")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": "{ apiVersion }", "variables": "[1]"}, "variables must be an object or null"),
        ({"query": "{ apiVersion }", "variables": "{"}, "not valid JSON in UTF-8"),
        ({"query": "{ apiVersion }", "extensions": "x"}, "not valid JSON in UTF-8"),
    ],
)
async def test_malformed_get_parameters_are_400_json(
    hub: Hub, params: dict[str, str], message: str
) -> None:
    response = await hub.http.get("/graphql", params=params)

    assert (response.status_code, response.json()) == (400, _bad_request(message))


async def test_a_mutation_over_get_is_a_json_405(hub: Hub) -> None:
    response = await hub.http.get("/graphql", params={"query": "mutation { x }"})

    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert response.json() == _bad_request("mutations need POST")


async def test_a_well_formed_body_still_answers(hub: Hub) -> None:
    response = await hub.http.post(
        "/graphql",
        content=b'{"query": "query Version { apiVersion }", "operationName": "Version"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200
    assert set(response.json()["data"]) == {"apiVersion"}


def _error_records(caplog: pytest.LogCaptureFixture, error_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and error_id in r.getMessage()]


async def test_a_failing_bearer_check_is_a_json_500_logged_once_without_the_token(
    hub: Hub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)

    async def broken(self: BearerTokens, token: str) -> None:
        raise RuntimeError(f"database down while checking {token}")

    monkeypatch.setattr(BearerTokens, "verify", broken)
    token = "eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl"

    response = await hub.http.post(
        "/graphql",
        json={"query": "{ apiVersion }"},
        headers={"Authorization": f"Bearer {token}"},
    )

    body = response.json()
    error_id = body["errors"][0]["extensions"]["errorId"]
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert body == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
            }
        ]
    }
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert len(_error_records(caplog, error_id)) == 1
    assert "builtins.RuntimeError at" in logged
    assert "POST /graphql 500" in logged
    assert f"error={error_id}" in logged
    assert token not in logged
    assert "database down" not in logged


class _Exploding:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise KeyError(SECRET)


def _app_with(middleware: list[Middleware]) -> Starlette:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/graphql", ok)], middleware=middleware)


async def test_a_failing_middleware_is_a_json_500_logged_once_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = _app_with(
        [
            Middleware(AccessLog, paths=["/graphql"]),
            Middleware(CatchUnexpected),
            Middleware(_Exploding),
        ]
    )
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get(f"/graphql?token={SECRET}")

    error_id = response.json()["errors"][0]["extensions"]["errorId"]
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (
        500,
        "INTERNAL_SERVER_ERROR",
    )
    assert len(_error_records(caplog, error_id)) == 1
    assert "builtins.KeyError at test_request_bodies.py:" in logged
    assert "GET /graphql 500" in logged
    assert SECRET not in logged


def test_describe_names_types_and_frames_of_the_whole_chain_but_no_message() -> None:
    def inner() -> None:
        raise ValueError(SECRET)

    try:
        try:
            inner()
        except ValueError as error:
            raise RuntimeError(f"wrapped {SECRET}") from error
    except RuntimeError as error:
        described = describe(error)

    assert SECRET not in described
    assert described.startswith("builtins.RuntimeError at test_request_bodies.py:")
    assert "; from builtins.ValueError at test_request_bodies.py:" in described
    assert " inner <- " in described
