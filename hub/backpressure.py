"""Overload answered as 503 with ``Retry-After``, never as a 500 (docs/operations.md).

The unit of work raises :class:`core.db.DatabaseBusy` when no database capacity frees up
within its bound. On ``/graphql`` that becomes a GraphQL error with code
``SERVICE_UNAVAILABLE`` (see hub/graphql_http.py); anywhere else (the OAuth endpoints) this
middleware answers a JSON error in the endpoint's own style: the GraphQL error on
``/graphql`` (when a read before execution, such as the public cache's, was refused) and
RFC 6749's ``temporarily_unavailable`` elsewhere.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from core.db import DatabaseBusy
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
        response = JSONResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": "the service is busy: retry after Retry-After",
            },
            status_code=503,
            headers={**retry_headers(error), "Pragma": "no-cache"},
        )
        await response(scope, receive, send)
