"""Unexpected errors: an id for the client, one log line for the operator, and nothing of
the request in either.

An exception's message may quote what the request carried: a driver's error repeats the
value it could not encode, a ``KeyError`` its key. So the log gets the exception's type
and the frames it passed through (file, line, function), for it and every exception it
was raised from, never a message, an argument or a local.
"""

from __future__ import annotations

import logging
import traceback
import uuid

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from hub.guard import ResponseGuard

log = logging.getLogger("alliance_hub.errors")


def new_error_id() -> str:
    return uuid.uuid4().hex[:12]


def describe(error: BaseException) -> str:
    """The exception chain as types and frames only, innermost cause last."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        where = " <- ".join(
            f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}"
            for frame in reversed(frames)
        )
        kind = type(current)
        parts.append(f"{kind.__module__}.{kind.__qualname__}" + (f" at {where}" if where else ""))
        current = current.__cause__ or current.__context__
    return "; from ".join(parts)


def log_unexpected(error: BaseException, error_id: str, where: str) -> None:
    """One line per unexpected error, findable by the id the client was given."""
    log.error("unexpected error %s in %s: %s", error_id, where, describe(error))


def record_error_id(scope: Scope, error_id: str) -> None:
    """The first error id of a request, for its access log line."""
    scope.setdefault("state", {}).setdefault("error_id", error_id)


def internal_error(error_id: str) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "Internal server error",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
                }
            ]
        },
        status_code=500,
        headers={"Cache-Control": "no-store"},
    )


class CatchUnexpected(ResponseGuard):
    """Whatever escapes the app, its middleware and the bearer check included, becomes a
    JSON 500 with an ``errorId``, logged once and never re-raised (the server would log it
    again, message and all)."""

    async def handle(
        self, error: Exception, scope: Scope, receive: Receive, send: Send, *, started: bool
    ) -> None:
        error_id = new_error_id()
        log_unexpected(error, error_id, "the HTTP stack")
        record_error_id(scope, error_id)
        if not started:
            await internal_error(error_id)(scope, receive, send)
