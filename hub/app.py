"""The Starlette application: /healthz and /graphql."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from hub.db import Database, database_from_settings
from schema.root import build_schema


async def healthz(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    try:
        reachable = await database.ping()
    except Exception:  # reported as a state, never as a trace
        reachable = False
    body = {
        "status": "ok" if reachable else "degraded",
        "database": {"store": database.dialect, "reachable": reachable},
    }
    return JSONResponse(body, status_code=200 if reachable else 503)


def create_app(database_url: str | None = None) -> Starlette:
    """The hub's ASGI app. Its database is opened and closed by the app's lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.database = (
            database_from_settings() if database_url is None else Database(database_url)
        )
        try:
            yield
        finally:
            await app.state.database.dispose()

    graphql = GraphQL(build_schema())
    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
