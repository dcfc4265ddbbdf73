"""The resource side: verify the bearer token of each GraphQL request (RFC 6750, RFC 9068).

The signature, issuer, audience and lifetime are checked against the published JWKS
(cached briefly, refreshed at once for an unknown ``kid``). A revocation or a suspension
stops live tokens at once, on every worker:

- a partner's or the operator's token: whether it is revoked and the client's and
  partner's status and scopes are the **client state**. Each worker keeps the states it
  read in memory, tagged with the credentials' version (migration 0033: a trigger bumps it
  in the same transaction as any revocation, client or partner change, and writes a fresh
  random stamp with it, migration 0041), and reads that one-row version on every request
  (``Database.peek``: microseconds on SQLite's own connection, one primary-key statement
  on PostgreSQL). A state is used only while the version and stamp it was read under are
  still the row's, and for at most
  ``STATE_FRESH_SECONDS``; otherwise it is read again. A change committed on any worker
  moves the version, so the very next request on every worker reads the state anew. The
  number alone is not enough: a failover that loses the last commits or a restore from a
  backup takes it back, and later bumps reach again a number a worker holds; the stamp
  written with each bump differs, so that worker's states no longer serve.
- a member's token: its revocation, its sign-in session and the member's and app's
  status are read from the database on every request.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy import exists
from sqlalchemy.orm import Session
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from strawberry.relay import GlobalID

from core.config import Settings
from core.db import Database, DatabaseBusy, utcnow
from hub.backpressure import graphql_unavailable
from hub.oauth2 import keys
from hub.oauth2.models import RevokedToken
from hub.oauth2.tokens import AccessTokenClaims, InvalidAccessToken, verify_access_token
from members.signin import MEMBER_SCOPE, active_member_app, family_revoked
from partners.clients import active_clients
from partners.models import OAuthClient, Partner
from resolvers.context import Principal

KEYS_FRESH_SECONDS = 30.0
KEYS_MIN_REFRESH_SECONDS = 1.0
# How long a worker keeps a client state read under the version still in force, and how
# many it keeps (the version moving forgets them all).
STATE_FRESH_SECONDS = 30.0
MAX_STATES = 10_000
CREDENTIAL_VERSION_SQL = "SELECT version, stamp FROM credential_version WHERE id = 1"
# The credentials' version as read: (number, stamp). Only equal pairs mean "no change".
Version = tuple[int, str]
NO_VERSION: Version = (-1, "")
T = TypeVar("T")
log = logging.getLogger("alliance_hub.auth")


class CheckUnavailable(AuthenticationError):
    """The token could not be checked because the database did not answer in time: the
    request is answered 503 with Retry-After, never 401 and never a 500."""

    def __init__(self, busy: DatabaseBusy) -> None:
        super().__init__("the service is busy")
        self.busy = busy


async def _checked(read: Callable[[], Awaitable[T]]) -> T:
    """A database read of the bearer check that cannot raise out of the middleware."""
    try:
        return await read()
    except DatabaseBusy as busy:
        raise CheckUnavailable(busy) from None
    except Exception as error:  # logged under an id, answered as unavailable
        error_id = uuid.uuid4().hex[:12]
        log.error(
            "bearer check failed: %s (error id %s)", type(error).__name__, error_id, exc_info=True
        )
        raise CheckUnavailable(DatabaseBusy("the database failed")) from None


class PrincipalUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.client_id or ""


@dataclass(frozen=True, slots=True)
class _ClientState:
    kind: str
    partner_id: int | None
    partner_code: str | None
    scopes: str
    revoked: bool


def _client_state(session: Session, client_id: str, jti: str) -> _ClientState | None:
    row = session.execute(
        active_clients(
            OAuthClient.kind,
            OAuthClient.partner_id,
            Partner.code,
            OAuthClient.scopes,
            exists().where(RevokedToken.jti == jti),
        ).where(OAuthClient.client_id == client_id)
    ).first()
    return None if row is None else _ClientState(*row)


@dataclass(frozen=True, slots=True)
class _Remembered:
    state: _ClientState | None
    read_at: float  # time.monotonic()


class ClientStates:
    """The client states this worker read, valid only under the credentials' version they
    were read at, number and stamp (see the module). Held on the event loop's thread; no
    lock needed."""

    def __init__(self) -> None:
        self.version = NO_VERSION
        self._held: dict[tuple[str, str], _Remembered] = {}

    def get(self, version: Version, key: tuple[str, str]) -> _Remembered | None:
        if version != self.version:
            return None
        held = self._held.get(key)
        if held is None or time.monotonic() - held.read_at >= STATE_FRESH_SECONDS:
            return None
        return held

    def put(self, version: Version, key: tuple[str, str], state: _ClientState | None) -> None:
        """Keep ``state``, read after the version ``version`` was read: it is at least as
        fresh as that version. A lower number than one already seen is not kept (a change
        may lie between them); the same number with another stamp is another history (the
        counter went back), whose states replace all held."""
        if version[0] < self.version[0]:
            return
        if version != self.version or len(self._held) >= MAX_STATES:
            self._held.clear()
            self.version = version
        self._held[key] = _Remembered(state, time.monotonic())


class BearerTokens(AuthenticationBackend):
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._keys: list[keys.PublishedKey] = []
        self._loaded_at = float("-inf")
        self.states = ClientStates()

    async def _client_state(self, client_id: str, jti: str) -> _ClientState | None:
        """The client state, from this worker's memory while the credentials' version
        stands, else from the database."""
        row = await _checked(lambda: self.database.peek(CREDENTIAL_VERSION_SQL))
        version = (int(row[0]), str(row[1]))
        key = (client_id, jti)
        held = self.states.get(version, key)
        if held is not None:
            return held.state
        state = await _checked(lambda: self.database.read(_client_state, client_id, jti))
        self.states.put(version, key, state)
        return state

    async def _published(self, kid: object) -> list[keys.PublishedKey]:
        age = time.monotonic() - self._loaded_at
        known = any(key.jwk.get("kid") == kid for key in self._keys)
        if age > KEYS_FRESH_SECONDS or (not known and age > KEYS_MIN_REFRESH_SECONDS):
            self._keys = await _checked(
                lambda: self.database.read(
                    keys.published_keys, utcnow(), self.settings.access_token_lifetime
                )
            )
            self._loaded_at = time.monotonic()
        return self._keys

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError("use a Bearer access token")
        principal = await self.verify(token.strip())
        return AuthCredentials(sorted(principal.scopes)), PrincipalUser(principal)

    async def verify(self, token: str) -> Principal:
        try:
            kid = jws.extract_compact(token.encode()).headers().get("kid")
        except (JoseError, ValueError) as error:
            raise AuthenticationError("the token is malformed") from error
        try:
            claims = verify_access_token(
                token,
                await self._published(kid),
                issuer=self.settings.issuer,
                audience=self.settings.resource,
                now=utcnow(),
            )
        except InvalidAccessToken as error:
            raise AuthenticationError(error.reason) from error
        if claims.scopes == (MEMBER_SCOPE,):
            return await self._member(claims)
        state = await self._client_state(claims.client_id, claims.jti)
        if state is None:
            raise AuthenticationError("the client or its partner is no longer active")
        if state.revoked:
            raise AuthenticationError("the token was revoked")
        return Principal(
            kind=state.kind,
            client_id=claims.client_id,
            partner_id=state.partner_id,
            partner_code=state.partner_code,
            scopes=frozenset(claims.scopes) & frozenset(state.scopes.split()),
        )

    async def _member(self, claims: AccessTokenClaims) -> Principal:
        """A member's token from the alliance's app: only ``member:self``, for the member in
        ``sub``, while the app and the member are active and neither the token nor its
        sign-in session (``sid``, the refresh token family) is revoked."""
        try:
            subject = GlobalID.from_id(claims.subject)
        except ValueError as error:
            raise AuthenticationError("the token names no member") from error
        if subject.type_name != "Member" or not subject.node_id.isdigit():
            raise AuthenticationError("the token names no member")
        member_id = int(subject.node_id)
        if not claims.session:
            raise AuthenticationError("the token names no sign-in session")
        standing = await _checked(
            lambda: self.database.read(
                _member_state, claims.client_id, member_id, claims.jti, claims.session
            )
        )
        if not standing:
            raise AuthenticationError("the member, the app or the token is no longer active")
        return Principal(
            kind="member",
            client_id=claims.client_id,
            scopes=frozenset({MEMBER_SCOPE}),
            member_id=member_id,
        )


def _member_state(
    session: Session, client_id: str, member_id: int, jti: str, sign_in_session: str
) -> bool:
    """The token stands while it is not revoked, its sign-in session (refresh token family)
    is not revoked, and the app and the member are active (a closed account's sessions are
    gone with it)."""
    revoked = session.get(RevokedToken, jti) is not None
    return (
        not revoked
        and not family_revoked(session, sign_in_session)
        and active_member_app(session, client_id, member_id)
    )


def unauthorized(conn: HTTPConnection, error: Exception) -> Response:
    """RFC 6750 §3: 401 with a Bearer challenge naming ``invalid_token``; 503 with
    Retry-After when the check itself could not run (the database did not answer).

    A bad token is never downgraded to anonymous: the whole request is refused. The error
    also carries ``extensions.http.status``, the convention GraphQL Yoga and Hive Gateway
    honour, so a gateway in front of the hub answers its client 401 as well instead of
    200 with ``data: null`` (docs/federation.md)."""
    if isinstance(error, CheckUnavailable):
        return graphql_unavailable(error.busy)
    description = str(error).replace('"', "'")
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"invalid token: {description}",
                    "extensions": {"code": "UNAUTHENTICATED", "http": {"status": 401}},
                }
            ]
        },
        status_code=401,
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"',
            "Cache-Control": "no-store",
        },
    )
