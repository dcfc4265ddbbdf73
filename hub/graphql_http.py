"""GraphQL over HTTP: the strawberry view as the hub serves it.

- Media types: ``application/graphql-response+json`` when the client accepts it, else
  ``application/json``; anything else is 406. Under the former a request error (the
  document does not parse or validate, or breaks a limit) is 400 and has no ``data``.
- GET serves queries only; batching is off; the body is capped (413).
- Every answer is JSON, refusals before GraphQL included: a body that is not a JSON object
  in UTF-8, nests deeper than ``MAX_JSON_DEPTH`` or gives ``query``, ``variables``,
  ``operationName`` or ``extensions`` the wrong type is 400 with a GraphQL-shaped error
  (``BAD_REQUEST``).
- Every error carries ``extensions.code``. Anything unexpected is masked as
  ``INTERNAL_SERVER_ERROR`` with an error id; the server log has the id, the exception's
  type and its frames, never its message (see hub.unexpected).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types import ExecutionResult

from core.db import Database, DatabaseBusy, utcnow
from hub.backpressure import SERVICE_UNAVAILABLE, retry_headers, unavailable_error
from hub.oauth2.bearer import PrincipalUser
from hub.public_cache import (
    PERSISTED_QUERY_NOT_FOUND,
    CachedAnswer,
    CacheKey,
    PersistedQueries,
    PersistedQueryError,
    PublicCache,
    etag_matches,
)
from hub.unexpected import log_unexpected, new_error_id, record_error_id
from partners.freshness import CatalogueState
from resolvers.context import ANONYMOUS, HubContext
from resolvers.loaders import Loaders
from schema.limits import MAX_TOKENS

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 1024 * 1024  # a settlement report of 5,000 lines is ~450 KiB
MAX_JSON_DEPTH = 32  # the deepest real request (a settlement report) nests 5 levels
OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
NAMED_OPERATION = re.compile(r"\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def request_error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """A refusal before GraphQL runs, shaped as a GraphQL response (GraphQL over HTTP §7)."""
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]},
        status_code=status,
        headers=headers,
    )


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
        error_id = new_error_id()
        assert error.original_error is not None
        log_unexpected(
            error.original_error,
            error_id,
            "field " + ".".join(str(p) for p in error.path or []),
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


def _depth_within(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests at most ``limit`` levels, walked without recursion."""
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict | list):
            if depth > limit:
                return False
            children = current.values() if isinstance(current, dict) else current
            pending.extend((child, depth + 1) for child in children)
    return True


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(data: str | bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN or Infinity, at most ``MAX_JSON_DEPTH`` deep."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise HTTPException(400, "not valid JSON in UTF-8") from error
    except RecursionError as error:
        raise HTTPException(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from error
    if not _depth_within(value, MAX_JSON_DEPTH):
        raise HTTPException(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def operation_name_of(data: GraphQLRequestData) -> str | None:
    """The operation's name for the access log: the one asked for, else the document's
    first; only a GraphQL name, so nothing else a client sends reaches the log."""
    return logged_operation_name(data.operation_name, data.query)


def logged_operation_name(name: str | None, query: str | None) -> str | None:
    """As :func:`operation_name_of`, from the request's members."""
    if name is None and query is not None:
        found = NAMED_OPERATION.match(query[:200])
        name = found.group(1) if found else None
    return name if name is not None and OPERATION_NAME.fullmatch(name) else None


NO_STORE = "no-store"
PUBLIC_VARY = "Accept, Authorization"


def operation_type_of(data: GraphQLRequestData) -> str:
    """query, mutation or subscription, for metrics: the named operation's keyword, else the
    document's first (a bare selection set is a query); "invalid" when neither is found."""
    query = data.query or ""
    if data.operation_name is not None and OPERATION_NAME.fullmatch(data.operation_name):
        found = re.search(
            rf"\b(query|mutation|subscription)\s+{re.escape(data.operation_name)}\b", query
        )
    else:
        found = re.match(r"\s*(query|mutation|subscription)\b", query)
    if found:
        return found.group(1)
    return "query" if query.lstrip().startswith("{") else "invalid"


class HubGraphQL(GraphQL[HubContext, None]):
    def __init__(
        self,
        schema: Any,
        *,
        production: bool = False,
        public_cache: PublicCache | None = None,
        catalogue: Any = None,
    ) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=True)
        self.production = production
        self.public_cache = public_cache
        self.catalogue = catalogue  # resolvers.catalog.CatalogueMemory
        self.persisted = public_cache.persisted if public_cache else PersistedQueries()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = request_error(error.reason, error.status_code)
        except PersistedQueryError as error:
            # NOT_FOUND is 200, as Apollo's clients expect (they then send the document);
            # a hash that does not match its document is a bad request.
            response = JSONResponse(
                {"errors": [{"message": error.message, "extensions": {"code": error.code}}]},
                status_code=200 if error.code == PERSISTED_QUERY_NOT_FOUND else 400,
            )
        response.headers.setdefault("cache-control", NO_STORE)
        await response(scope, receive, send)

    async def run(  # type: ignore[override]
        self, request: Request, context: Any = None, root_value: Any = None
    ) -> Response:
        """strawberry's run for one HTTP operation, with the public response cache around
        the execution (hub.public_cache)."""
        adapter = self.request_adapter_class(request)
        if not self.is_request_allowed(adapter):
            raise HTTPException(405, "GraphQL only supports GET and POST requests.")
        if self.should_render_graphql_ide(adapter):
            raise HTTPException(404, "Not Found")
        miss = getattr(request.state, "public_miss", None)
        request_data = await self.parse_http_body(
            adapter, miss if isinstance(miss, PublicMiss) else None
        )
        cache = self.public_cache
        public = None
        if (
            cache is not None
            and cache.enabled
            and request_data.query is not None
            and "authorization" not in request.headers
        ):
            if isinstance(miss, PublicMiss) and miss.same(request_data, request.state.media_type):
                # PublicFront looked this very request up a moment ago and missed: its
                # version, read before anything ran, keys the answer.
                document, public = None, (miss.key, miss.state, miss.now)
            else:
                document = cache.normalised(request_data.query, request_data.operation_name)
            if document is not None:
                now = utcnow()
                state = await cache.freshness.state(now)
                key = cache.key(
                    document,
                    request_data.operation_name,
                    request_data.variables,
                    request.state.media_type,
                    state.version,
                )
                found = cache.lookup(key, now)
                if found is not None:
                    request.state.operation_name = operation_name_of(request_data)
                    request.state.operation_type = operation_type_of(request_data)
                    request.state.graphql_outcome = "ok"  # only answers without errors are kept
                    return self._public(request, found, now)
                public = (key, state, now)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        if public is not None:
            context.catalogue_version = public[1].version
        result = await self.execute_operation(
            request=request,
            request_adapter=adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )
        assert isinstance(result, ExecutionResult)  # one operation, no streaming
        response_data = await self.process_result(request=request, result=result)
        response = self.create_response(response_data=response_data, sub_response=sub_response)
        if public is not None and response.status_code == 200 and not result.errors:
            key, before, now = public
            assert cache is not None
            after = await cache.freshness.state(utcnow())
            if after.version == before.version:  # nothing changed while it ran
                body = bytes(response.body)
                answer = CachedAnswer(body, JSON, min(before.boundary, after.boundary))
                cache.store(key, answer)
                return self._public(request, answer, now)
        return response

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET naming a persisted query has no ``query`` parameter but is an operation."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    def _public(self, request: Request, answer: CachedAnswer, now: Any) -> Response:
        assert self.public_cache is not None
        return public_response(
            self.public_cache,
            request.method,
            request.headers.get("if-none-match"),
            answer,
            now,
        )

    def parse_json(self, data: str | bytes) -> Any:
        return strict_json(data)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter, parsed: PublicMiss | None = None
    ) -> GraphQLRequestData:
        """One operation as a JSON object (POST) or query parameters (GET); every member
        of its documented type (GraphQL over HTTP §5.1)."""
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)
        elif (request.content_type or "").split(";")[0].strip().lower() == JSON:
            body = await request.get_body()
            # The body PublicFront already parsed (the same bytes): not parsed again.
            known = parsed is not None and parsed.body == body
            data = parsed.data if parsed is not None and known else self.parse_json(body)
        else:
            raise HTTPException(415, f"send the operation as {JSON}")
        if isinstance(data, list):
            raise HTTPException(400, "batching is not enabled: send one operation")
        if not isinstance(data, dict):
            raise HTTPException(400, "the body must be a JSON object")
        for member, kind, described in (
            ("query", str, "a string"),
            ("operationName", str, "a string"),
            ("variables", dict, "an object"),
            ("extensions", dict, "an object"),
        ):
            if not isinstance(data.get(member), kind | None):
                raise HTTPException(400, f"{member} must be {described} or null")
        return GraphQLRequestData(
            query=self.persisted.resolve(data.get("query"), data.get("extensions")),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    async def execute_single(  # type: ignore[override]
        self, request: Request, request_data: GraphQLRequestData, **kwargs: Any
    ) -> ExecutionResult:
        request.state.operation_name = operation_name_of(request_data)
        request.state.operation_type = operation_type_of(request_data)
        return await super().execute_single(request=request, request_data=request_data, **kwargs)

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
            introspection=principal.authenticated or not self.production,
            catalogue=self.catalogue,
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
        for error in errors:
            if error.extensions and "errorId" in error.extensions:
                record_error_id(request.scope, str(error.extensions["errorId"]))
        media = request.state.media_type
        body: dict[str, Any] = {}
        if executed or media == JSON:
            body["data"] = result.data
        if errors:
            body["errors"] = [error.formatted for error in errors]
        request.state.graphql_outcome = "error" if errors else "ok"
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


def public_response(
    cache: PublicCache, method: str, if_none_match: str | None, answer: CachedAnswer, now: Any
) -> Response:
    """A public answer; over GET with its HTTP caching headers, or 304."""
    if method != "GET":
        return Response(answer.body, media_type=answer.media_type)
    headers = {
        "ETag": answer.etag,
        "Cache-Control": cache.cache_control(answer.valid_until, now),
        "Vary": PUBLIC_VARY,
    }
    if etag_matches(if_none_match, answer.etag):
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type=answer.media_type, headers=headers)


@dataclass(frozen=True, slots=True)
class PublicMiss:
    """What PublicFront read of a public request it could not answer, for the view."""

    body: bytes | None  # a POST's body, as parsed into ``data``
    data: dict[str, Any]
    query: str
    operation_name: str | None
    variables: dict[str, Any] | None
    media_type: str
    key: CacheKey
    state: CatalogueState
    now: datetime

    def same(self, request: GraphQLRequestData, media_type: str) -> bool:
        return (
            request.query == self.query
            and request.operation_name == self.operation_name
            and request.variables == self.variables
            and media_type == self.media_type
        )


class PublicFront:
    """A repeated public query answered from the public cache before routing, the bearer
    check and the GraphQL view run: the same answer, headers included, that the view would
    give from the same cache. Anything it cannot answer (an ``Authorization`` header, a
    body it would refuse, a document not public, a miss) passes through untouched, its
    body replayed, and the view decides as always."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/graphql"
            or scope["method"] not in ("GET", "POST")
        ):
            await self.app(scope, receive, send)
            return
        cache: PublicCache | None = getattr(scope["app"].state, "public_cache", None)
        headers = {name: value for name, value in scope["headers"]}
        if cache is None or not cache.enabled or b"authorization" in headers:
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            declared = headers.get(b"content-length", b"")
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if (
                not declared.isdigit()
                or int(declared) > MAX_BODY_BYTES
                or kind != b"application/json"
            ):
                await self.app(scope, receive, send)
                return
            body, receive = await _read_body(receive)
        answer = await self._answer(scope, cache, headers, body)
        if answer is None:
            await self.app(scope, receive, send)
            return
        await answer(scope, receive, send)

    async def _answer(
        self, scope: Scope, cache: PublicCache, headers: dict[bytes, bytes], body: bytes
    ) -> Response | None:
        media = negotiate(headers[b"accept"].decode("latin-1") if b"accept" in headers else None)
        if media is None:
            return None
        try:
            if scope["method"] == "POST":
                data = strict_json(body)
            else:
                data = dict(QueryParams(scope["query_string"]))
                for member in ("variables", "extensions"):
                    if data.get(member):
                        data[member] = strict_json(data[member])
        except HTTPException:
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        if not (
            isinstance(query, str | None)
            and isinstance(variables, dict | None)
            and isinstance(operation_name, str | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        if extensions and "persistedQuery" in extensions:
            if query is not None:
                return None  # registering: the view checks the hash
            persisted = extensions["persistedQuery"]
            if not isinstance(persisted, dict) or persisted.get("version") != 1:
                return None
            wanted = persisted.get("sha256Hash")
            query = (
                cache.persisted.documents.get(wanted.lower()) if isinstance(wanted, str) else None
            )
        if query is None:
            return None
        document = cache.normalised(query, operation_name)
        if document is None:
            return None
        now = utcnow()
        state = await cache.freshness.state(now)
        key = cache.key(document, operation_name, variables, media, state.version)
        found = cache.lookup(key, now)
        if found is None:
            # The view runs it, from what was read here: not parsed or looked up again.
            scope.setdefault("state", {})["public_miss"] = PublicMiss(
                body if scope["method"] == "POST" else None,
                data,
                query,
                operation_name,
                variables,
                media,
                key,
                state,
                now,
            )
            return None
        state_of_scope = scope.setdefault("state", {})
        state_of_scope["operation_name"] = logged_operation_name(operation_name, query)
        state_of_scope["operation_type"] = "query"  # public documents are queries
        state_of_scope["graphql_outcome"] = "ok"  # only answers without errors are kept
        if_none_match = headers.get(b"if-none-match")
        response = public_response(
            cache,
            scope["method"],
            None if if_none_match is None else if_none_match.decode("latin-1"),
            found,
            now,
        )
        if media == GRAPHQL_RESPONSE_JSON and response.status_code == 200:
            response.headers["content-type"] = "application/graphql-response+json; charset=utf-8"
        response.headers.setdefault("cache-control", NO_STORE)
        return response


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a receive that hands it over again."""
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class GraphQLEndpoint:
    """Negotiation and the body cap around the strawberry view."""

    def __init__(self, view: HubGraphQL, *, graphiql: bool = False) -> None:
        self.view = view
        self.graphiql = graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        if self.graphiql and wants_graphiql(request):
            await graphiql_page()(scope, receive, send)
            return
        media = negotiate(request.headers.get("accept"))
        if media is None:
            await request_error(f"Not acceptable: ask for {GRAPHQL_RESPONSE_JSON} or {JSON}", 406)(
                scope, receive, send
            )
            return
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        if request.method == "GET" and _is_mutation(
            request.query_params.get("query"), request.query_params.get("operationName")
        ):
            await request_error("mutations need POST", 405, {"Allow": "POST"})(scope, receive, send)
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


def wants_graphiql(request: Request) -> bool:
    """A browser opening /graphql: GET without a query, asking for HTML."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and "text/html" in accept.split(";")[0].lower().replace(" ", "").split(",")
    )


@functools.cache
def _graphiql_html() -> str:
    return get_graphql_ide_html("graphiql")


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(_graphiql_html(), headers={"Cache-Control": "no-store"})


def _is_mutation(query: str | None, operation_name: str | None) -> bool:
    """GraphQL over HTTP §6.3.1: a mutation over GET is 405, before anything executes."""
    if not query:
        return False
    try:
        operation = get_operation_ast(parse(query, max_tokens=MAX_TOKENS), operation_name)
    except (GraphQLError, RecursionError):
        return False  # the view reports the error
    return operation is not None and operation.operation == OperationType.MUTATION


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await request_error(f"Request body larger than {MAX_BODY_BYTES} bytes", 413)(
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
