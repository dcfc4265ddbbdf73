"""Logging without secrets: an access log that never prints query strings or headers,
and no debug output from authlib (its debug lines include issued tokens)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("alliance_hub.access")


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def quiet_authlib() -> None:
    logger = logging.getLogger("authlib")
    if not any(isinstance(f, _DropDebug) for f in logger.filters):
        logger.addFilter(_DropDebug())
    logger.setLevel(logging.INFO)


class AccessLog:
    """``METHOD /path STATUS ms``: the path only, never the query string (a client might put
    a secret there) and never a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )
