"""Overload answered as 503 with ``Retry-After``, never as a 500 (docs/operations.md).

The unit of work raises :class:`core.db.DatabaseBusy` when no database capacity frees up
within its bound. On ``/graphql`` that becomes a GraphQL error with code
``SERVICE_UNAVAILABLE`` (see hub/graphql_http.py); anywhere else (the OAuth endpoints) this
middleware answers a JSON error in the endpoint's own style: the GraphQL error on
``/graphql`` (when a read before execution, such as the public cache's, was refused) and
RFC 6749's ``temporarily_unavailable`` elsewhere.

Before all that, :class:`RequestAdmission` lets at most ``HUB_MAX_REQUESTS_IN_FLIGHT``
requests be worked on at once per worker; the others wait their turn in arrival order,
before any parsing, token check or database work, up to ``HUB_REQUEST_QUEUE_LIMIT`` of
them and each for at most ``HUB_REQUEST_QUEUE_TIMEOUT_SECONDS``. A burst is thus served a
few dozen at a time, so the event loop stays shallow and a transaction holding a row lock
is not kept waiting behind a thousand other requests' callbacks; only a burst beyond the
line is shed, with the same 503 and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.db import Admission, DatabaseBusy
from hub.guard import ResponseGuard

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


def retry_headers(busy: DatabaseBusy) -> dict[str, str]:
    return {"Retry-After": str(busy.retry_after), "Cache-Control": "no-store"}


def graphql_unavailable(busy: DatabaseBusy) -> JSONResponse:
    """A whole GraphQL response for a request refused before it executed (with
    ``extensions.http.status`` for a gateway in front, as the 401 has)."""
    error = unavailable_error()
    error["extensions"]["http"] = {"status": 503}
    return JSONResponse({"errors": [error]}, status_code=503, headers=retry_headers(busy))


def unavailable_error() -> dict[str, Any]:
    return {
        "message": "The service is busy: retry after the time in Retry-After",
        "extensions": {"code": SERVICE_UNAVAILABLE},
    }


class Backpressure(ResponseGuard):
    """Turn a DatabaseBusy that escapes an endpoint into 503 + Retry-After."""

    catches = (DatabaseBusy,)

    async def handle(
        self, error: Exception, scope: Scope, receive: Receive, send: Send, *, started: bool
    ) -> None:
        assert isinstance(error, DatabaseBusy)
        if started:
            raise error
        if scope.get("path") == "/graphql":  # refused before GraphQL ran (e.g. a cache's read)
            await graphql_unavailable(error)(scope, receive, send)
            return
        await oauth_unavailable(error)(scope, receive, send)


def oauth_unavailable(busy: DatabaseBusy) -> JSONResponse:
    return JSONResponse(
        {
            "error": "temporarily_unavailable",
            "error_description": "the service is busy: retry after Retry-After",
        },
        status_code=503,
        headers={**retry_headers(busy), "Pragma": "no-cache"},
    )


class RequestAdmission:
    """At most ``admission.limit`` requests in the app at once; the rest wait in line
    (see the module). ``exempt`` paths (the health check, metrics) never wait."""

    def __init__(
        self,
        app: ASGIApp,
        admission: Admission,
        graphql_path: str = "/graphql",
        exempt: Collection[str] = ("/healthz", "/metrics"),
    ) -> None:
        self.app = app
        self.admission = admission
        self.graphql_path = graphql_path
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        try:
            await self.admission.acquire()
        except DatabaseBusy as busy:
            refusal = (
                graphql_unavailable(busy)
                if scope["path"] == self.graphql_path
                else oauth_unavailable(busy)
            )
            await refusal(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release()
