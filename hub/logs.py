"""Logging without secrets: an access log that never prints query strings or headers,
and no debug output from authlib (its debug lines include issued tokens)."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("alliance_hub.access")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def quiet_authlib() -> None:
    logger = logging.getLogger("authlib")
    if not any(isinstance(f, _DropDebug) for f in logger.filters):
        logger.addFilter(_DropDebug())
    logger.setLevel(logging.INFO)


class AccessLog:
    """One line per request: method, path, status, duration, client id, operation name and
    error id, e.g. ``POST /graphql 200 12.3ms client=c_1 operation=Award error=-``.

    Never the query string (a client might put a secret there), never a header or a body.
    A path the hub does not serve is logged as ``(unknown)``, since anything can be written
    there. The fields are also on the record (``extra``) for structured formatters.
    """

    def __init__(self, app: ASGIApp, paths: Collection[str] = ()) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            fields = access_fields(scope, self.paths, status, time.perf_counter() - started)
            access_log.info(
                "%s %s %d %.1fms client=%s operation=%s error=%s",
                fields["method"],
                fields["path"],
                fields["status"],
                fields["duration_ms"],
                fields["client_id"] or "-",
                fields["operation_name"] or "-",
                fields["error_id"] or "-",
                extra=fields,
            )


def access_fields(
    scope: Scope, paths: frozenset[str], status: int, seconds: float
) -> dict[str, Any]:
    state = scope.get("state") or {}
    user = scope.get("user")
    principal = getattr(user, "principal", None)
    path = scope["path"]
    return {
        "method": scope["method"] if scope["method"] in METHODS else "(other)",
        "path": path if path in paths else "(unknown)",
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "client_id": getattr(principal, "client_id", None),
        "operation_name": state.get("operation_name"),
        "error_id": state.get("error_id"),
    }
