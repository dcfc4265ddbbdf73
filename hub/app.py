"""The Starlette application: GraphQL, the OAuth 2.0 endpoints and /healthz."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from core.config import Settings, get_settings
from core.db import Database, database_from_settings
from core.notify import Notifier
from hub.backpressure import Backpressure
from hub.graphql_http import GraphQLEndpoint, HubGraphQL
from hub.logs import AccessLog, quiet_authlib
from hub.oauth2.authorize import SignInPages
from hub.oauth2.bearer import BearerTokens, unauthorized
from hub.oauth2.endpoints import OAuthEndpoints, server_metadata
from hub.public_cache import PublicCache
from hub.unexpected import CatchUnexpected
from resolvers.catalog import CatalogueMemory
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


class _Late:
    """An ASGI app built in the lifespan, once the database exists."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(
    database_url: str | None = None,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> Starlette:
    """The hub's ASGI app. Its database is opened and closed by the app's lifespan.
    Messages to members' phones go to ``notifier``, by default the configured one."""
    settings = settings or get_settings()
    chosen_notifier = notifier or settings.notifier()
    server_metadata(settings)  # an invalid issuer stops the hub before it serves
    quiet_authlib()
    graphql = _Late()
    endpoints: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = database_from_settings(settings, database_url)
        app.state.database = database
        app.state.notifier = chosen_notifier
        oauth = OAuthEndpoints(database, settings)
        endpoints.update(
            token=oauth.token,
            revoke=oauth.revoke,
            introspect=oauth.introspect,
            metadata=oauth.server_metadata,
            jwks=oauth.jwks,
            authorize=SignInPages(database, settings, chosen_notifier).authorize,
        )
        schema = build_schema()
        public_cache = PublicCache(
            schema._schema,
            database,
            max_bytes=settings.public_cache_mb * 1024 * 1024,
            max_age=settings.public_cache_max_age,
            stale_while_revalidate=settings.public_cache_stale_while_revalidate,
        )
        catalogue = CatalogueMemory(database, settings.catalog_memory_items)
        app.state.catalogue, app.state.public_cache = catalogue, public_cache
        graphql.app = AuthenticationMiddleware(
            GraphQLEndpoint(
                HubGraphQL(
                    schema,
                    production=settings.production,
                    public_cache=public_cache,
                    catalogue=catalogue,
                )
            ),
            backend=BearerTokens(database, settings),
            on_error=unauthorized,
        )
        try:
            yield
        finally:
            await database.dispose()

    def late(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            response: Response = await endpoints[name](request)
            return response

        return endpoint

    logging.getLogger("alliance_hub").setLevel(logging.INFO)
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/oauth/authorize", late("authorize"), methods=["GET", "POST"]),
        Route("/oauth/token", late("token"), methods=["POST"]),
        Route("/oauth/revoke", late("revoke"), methods=["POST"]),
        Route("/oauth/introspect", late("introspect"), methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", late("metadata"), methods=["GET"]),
        Route("/.well-known/jwks.json", late("jwks"), methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AccessLog, paths=[route.path for route in routes]),
            Middleware(CatchUnexpected),
            # Inside the catch-all: a busy database is a 503 with Retry-After, not a 500.
            Middleware(Backpressure),
        ],
        lifespan=lifespan,
    )
