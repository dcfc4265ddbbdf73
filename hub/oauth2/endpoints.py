"""Starlette endpoints of the authorization server: token (RFC 6749 §3.2), revocation
(RFC 7009), introspection (RFC 7662), metadata (RFC 8414) and the JWKS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core import metrics
from core.config import Settings
from core.db import Database, utcnow
from hub.oauth2 import keys
from hub.oauth2.member_tokens import (
    MEMBER_GRANTS,
    member_revocation_response,
    member_token_response,
)
from hub.oauth2.server import AUTH_METHODS, HubAuthorizationServer, HubOAuth2Request
from members.signin import MEMBER_SCOPE
from partners.scopes import ALL_SCOPES

MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RequestRejected(Exception):
    """An OAuth error decided before authlib sees the request."""

    def __init__(self, description: str, error: str = "invalid_request") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def oauth_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] = {}
) -> Response:
    """Every answer of these endpoints is uncacheable (RFC 6749 §5.1). ``invalid_client``
    is always 401 with a challenge (RFC 6749 §5.2), whichever method the client tried; every
    other error is 400 (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7662 §2.3), whatever status
    authlib's error class carries (it gives ``unsupported_token_type`` 401)."""
    merged = {**dict(headers), **NO_STORE}
    merged.pop("Content-Type", None)
    error = body.get("error")
    if error == "invalid_client":
        status = 401
        merged["WWW-Authenticate"] = 'Basic realm="alliance-hub"'
    elif error is not None and status < 500:
        status = 400
    return JSONResponse(dict(body), status_code=status, headers=merged)


async def parse_form(request: Request) -> dict[str, str]:
    """RFC 6749 §2.3 and §3.2: parameters in an urlencoded body only, each at most once, and
    exactly one client authentication method."""
    if request.url.query:
        raise RequestRejected("parameters, and above all secrets, must not be sent in the URL")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise RequestRejected("the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise RequestRejected("the request body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestRejected("the body is not a valid form") from error
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RequestRejected(f"parameters may appear only once: {', '.join(repeated)}")
    form = dict(pairs)
    methods = [
        "authorization" in request.headers,
        "client_secret" in form,
        "client_assertion" in form or "client_assertion_type" in form,
    ]
    if sum(methods) > 1:
        raise RequestRejected("use exactly one client authentication method")
    return form


def _public_client(request: Request, form: dict[str, str]) -> bool:
    """A client that names itself and proves nothing (the alliance's app, RFC 6749 §2.1)."""
    return (
        "client_id" in form
        and "authorization" not in request.headers
        and "client_secret" not in form
        and "client_assertion" not in form
        and "client_assertion_type" not in form
    )


class OAuthEndpoints:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.metadata = server_metadata(settings)

    async def _run(self, request: Request, name: str) -> Response:
        try:
            form = await parse_form(request)
            if name == "token" and "grant_type" not in form:
                raise RequestRejected("grant_type is required")
        except RequestRejected as rejected:
            return oauth_response(
                400, {"error": rejected.error, "error_description": rejected.description}
            )
        if name == "revocation" and _public_client(request, form):
            status, body, headers = await self.database.write(
                member_revocation_response, self.settings, form, utcnow()
            )
            return oauth_response(status, body, dict(headers))
        if name == "token" and form["grant_type"] in MEMBER_GRANTS:
            status, body, headers = await self.database.write(
                member_token_response, self.settings, form, utcnow()
            )
        else:
            uri = self.settings.issuer + request.url.path
            status, body, headers = await self.database.write(
                _respond, self.settings, name, uri, request.headers, form
            )
        if name == "token":
            count_token(form.get("grant_type", ""), status, body)
        return oauth_response(status, body, dict(headers))

    async def token(self, request: Request) -> Response:
        return await self._run(request, "token")

    async def revoke(self, request: Request) -> Response:
        return await self._run(request, "revocation")

    async def introspect(self, request: Request) -> Response:
        return await self._run(request, "introspection")

    async def server_metadata(self, request: Request) -> Response:
        return JSONResponse(dict(self.metadata))

    async def jwks(self, request: Request) -> Response:
        published = await self.database.read(
            keys.published_keys, utcnow(), self.settings.access_token_lifetime
        )
        return JSONResponse(keys.jwks_document(published), headers={"Cache-Control": "max-age=60"})


KNOWN_GRANTS = frozenset({"client_credentials", *MEMBER_GRANTS})
# RFC 6749 §5.2's codes and the few the hub adds; anything else is counted as "error".
KNOWN_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "temporarily_unavailable",
        "slow_down",
    }
)


def count_token(grant: str, status: int, body: Any) -> None:
    """alliance_hub_tokens_total{grant, outcome}: labels from fixed sets only."""
    error = body.get("error") if isinstance(body, dict) else None
    outcome = "issued" if status == 200 else (error if error in KNOWN_ERRORS else "error")
    metrics.TOKENS.labels(grant if grant in KNOWN_GRANTS else "(other)", outcome).inc()


def _respond(
    session: Session,
    settings: Settings,
    name: str,
    uri: str,
    headers: Headers,
    form: dict[str, str],
) -> tuple[int, Any, list[tuple[str, str]]]:
    server = HubAuthorizationServer(session, settings, utcnow())
    request = HubOAuth2Request(uri, headers, form)  # type: ignore[arg-type]
    if name == "token":
        return server.create_token_response(request)  # type: ignore[no-any-return]
    return server.create_endpoint_response(name, request)  # type: ignore[no-any-return]


class HubServerMetadata(AuthorizationServerMetadata):  # type: ignore[misc]
    def validate_response_types_supported(self) -> None:
        """RFC 8414 §2: the authorization endpoint (members' sign-in) serves ``code``."""
        if self.get("response_types_supported") != ["code"]:
            raise ValueError('"response_types_supported" must be ["code"]')


def server_metadata(settings: Settings) -> HubServerMetadata:
    """RFC 8414 metadata, validated when the app starts: a bad issuer stops the hub."""
    issuer = settings.issuer
    metadata = HubServerMetadata(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials", *MEMBER_GRANTS],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": [*ALL_SCOPES, MEMBER_SCOPE],
            # "none": the alliance's app, a public client (PKCE binds its codes).
            "token_endpoint_auth_methods_supported": [*AUTH_METHODS, "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            # "none": the alliance's app signs out (members/signin.py revoke_refresh).
            "revocation_endpoint_auth_methods_supported": [*AUTH_METHODS, "none"],
            "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        }
    )
    metadata.validate()
    return metadata
