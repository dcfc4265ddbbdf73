"""GraphQL over HTTP: the strawberry view as the hub serves it.

- Media types: ``application/graphql-response+json`` when the client accepts it, else
  ``application/json``; anything else is 406. Under the former a request error (the
  document does not parse or validate, or breaks a limit) is 400 and has no ``data``.
- GET serves queries only; batching is off; the body is capped (413).
- Every error carries ``extensions.code``. Anything unexpected is masked as
  ``INTERNAL_SERVER_ERROR``: its message, stack trace and SQL stay in the server log,
  under an error id the client is given.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from core.db import Database, DatabaseBusy
from hub.backpressure import SERVICE_UNAVAILABLE, retry_headers, unavailable_error
from hub.oauth2.bearer import PrincipalUser
from resolvers.context import ANONYMOUS, HubContext
from resolvers.loaders import Loaders

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 1024 * 1024  # a settlement report of 5,000 lines is ~450 KiB

log = logging.getLogger("alliance_hub.graphql")


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header (GraphQL over HTTP §6.4), or None."""
    if not accept:
        return JSON
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE_JSON in offered:
        return GRAPHQL_RESPONSE_JSON
    if JSON in offered or "*/*" in offered or "application/*" in offered:
        return JSON
    return None


def expected(error: GraphQLError) -> bool:
    """Errors the API means to send: GraphQL's own, and those our code raises as
    GraphQLError. Anything else escaped a resolver and is masked."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def _code_for(error: GraphQLError, executed: bool) -> str:
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None and not executed:
        return (
            "BAD_USER_INPUT"
            if error.message.startswith("Variable")
            else "GRAPHQL_VALIDATION_FAILED"
        )
    return "BAD_USER_INPUT"


def normalise(error: GraphQLError, executed: bool) -> GraphQLError:
    if isinstance(error.original_error, DatabaseBusy):
        return GraphQLError(
            unavailable_error()["message"],
            error.nodes,
            path=error.path,
            extensions={"code": SERVICE_UNAVAILABLE},
        )
    if not expected(error):
        error_id = uuid.uuid4().hex[:12]
        log.error(
            "unexpected error %s at %s (error id %s)",
            type(error.original_error).__name__,
            ".".join(str(p) for p in error.path or []),
            error_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            "Internal server error",
            error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
        )
    if error.extensions and "code" in error.extensions:
        return error
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={**(error.extensions or {}), "code": _code_for(error, executed)},
    )


class HubGraphQL(GraphQL[HubContext, None]):
    def __init__(self, schema: Any) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=True)

    async def get_context(self, request: Any, response: Any) -> HubContext:
        user = request.scope.get("user")
        principal = user.principal if isinstance(user, PrincipalUser) else ANONYMOUS
        database: Database = request.app.state.database
        return HubContext(
            database=database,
            principal=principal,
            request=request,
            response=response,
            loaders=Loaders(database),
            notifier=getattr(request.app.state, "notifier", None),
        )

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        request.state.sub_response = sub_response
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        executed = result.data is not None or any(e.path for e in result.errors or [])
        errors = [normalise(error, executed) for error in result.errors or []]
        media = request.state.media_type
        body: dict[str, Any] = {}
        if executed or media == JSON:
            body["data"] = result.data
        if errors:
            body["errors"] = [error.formatted for error in errors]
        if result.extensions:
            body["extensions"] = result.extensions
        if not executed and media == GRAPHQL_RESPONSE_JSON:
            request.state.sub_response.status_code = 400
        busy = _busy(result)
        if busy is not None:
            request.state.sub_response.status_code = 503
            request.state.sub_response.headers.update(retry_headers(busy))
        return body  # type: ignore[return-value]


def _busy(result: ExecutionResult) -> DatabaseBusy | None:
    """The overload that stopped a request which did nothing at all (every top-level field
    null): such a request is 503 with Retry-After. One that answered some field, above all
    a mutation that committed, keeps its 200 and carries the error at its path."""
    found = [
        e.original_error for e in result.errors or [] if isinstance(e.original_error, DatabaseBusy)
    ]
    if not found or any(value is not None for value in (result.data or {}).values()):
        return None
    return found[0]


class GraphQLEndpoint:
    """Negotiation and the body cap around the strawberry view."""

    def __init__(self, view: HubGraphQL) -> None:
        self.view = view

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        media = negotiate(request.headers.get("accept"))
        if media is None:
            await PlainTextResponse(
                f"Not acceptable: ask for {GRAPHQL_RESPONSE_JSON} or {JSON}", status_code=406
            )(scope, receive, send)
            return
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        if request.method == "GET" and _is_mutation(
            request.query_params.get("query"), request.query_params.get("operationName")
        ):
            await PlainTextResponse(
                "mutations need POST", status_code=405, headers={"Allow": "POST"}
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["media_type"] = media
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.view(scope, _capped(receive), _typed(tracking, media))
        except BodyTooLarge:
            if started:
                raise
            await _too_large(scope, receive, send)


def _is_mutation(query: str | None, operation_name: str | None) -> bool:
    """GraphQL over HTTP §6.3.1: a mutation over GET is 405, before anything executes."""
    if not query:
        return False
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return False  # the view reports the syntax error
    return operation is not None and operation.operation == OperationType.MUTATION


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse(f"Request body larger than {MAX_BODY_BYTES} bytes", status_code=413)(
        scope, receive, send
    )


class BodyTooLarge(Exception):
    """A chunked body that grew past the cap."""


def _capped(receive: Receive) -> Receive:
    received = 0

    async def capped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise BodyTooLarge
        return message

    return capped


def _typed(send: Send, media: str) -> Send:
    """Stamp the negotiated media type on JSON bodies the view produces."""

    async def typed(message: Message) -> None:
        if message["type"] == "http.response.start" and media == GRAPHQL_RESPONSE_JSON:
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() != b"content-type" or not value.startswith(b"application/json")
            ]
            if len(headers) != len(message.get("headers", [])):
                headers.append(
                    (b"content-type", b"application/graphql-response+json; charset=utf-8")
                )
            message = {**message, "headers": headers}
        await send(message)

    return typed
