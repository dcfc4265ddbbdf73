"""authlib's framework-agnostic AuthorizationServer, bound to one request's session.

One server is built per request inside the request's unit of work, so authlib's
synchronous hooks (client lookup, assertion ``jti`` check, token save) run on the
same session and commit or roll back with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Table
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import insert_if_absent
from hub.oauth2 import keys
from hub.oauth2.models import RevokedToken, UsedAssertion
from hub.oauth2.tokens import (
    AccessTokenClaims,
    InvalidAccessToken,
    issue_access_token,
    verify_access_token,
)
from partners.clients import ActiveClient, active_client
from partners.models import AuthMethod

ASSERTION_ALGORITHMS = ("ES256", "RS256")
ASSERTION_MAX_LIFETIME = timedelta(hours=1)
AUTH_METHODS = [method.value for method in AuthMethod]


class HubClient(ClientMixin):  # type: ignore[misc]
    """authlib's view of an :class:`ActiveClient`."""

    def __init__(self, client: ActiveClient, secret_key: str) -> None:
        self.client = client
        self._secret_key = secret_key

    def get_client_id(self) -> str:
        return self.client.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client.secret_matches(self._secret_key, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.client.auth_method

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or " ".join(self.client.scopes)


class HubClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """RFC 6749 §3.3: every requested scope must be registered to this client."""
        requested = (self.request.payload.scope or "").split()
        if not set(requested) <= set(self.request.client.client.scopes):
            raise InvalidScopeError()


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 §2.2 / §3 client authentication by a signed assertion.

    Beyond authlib's checks: only ES256 and RS256 (``alg: none`` and HMAC are refused
    before any key is touched), ``iat`` and ``exp`` must both be present, ``exp`` at most
    an hour after ``iat`` (the common bound, and authlib's client default), ``iat`` not in
    the future, and each ``jti`` is accepted once (a unique row kept until ``exp``).
    """

    CLIENT_AUTH_METHOD = AuthMethod.PRIVATE_KEY_JWT.value

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.server = server

    def __call__(self, query_client: Any, request: OAuth2Request) -> HubClient | None:
        """RFC 7521 §4.2: a ``client_id`` sent beside an assertion must name the client the
        assertion authenticates (its ``sub``); any other is ``invalid_client``, decided
        before the assertion's ``jti`` is spent."""
        named = request.form.get("client_id")
        assertion = request.form.get("client_assertion")
        if named is not None and assertion:
            _, claims = self.extract_assertion(assertion)
            if claims.get("sub") != named:
                raise InvalidClientError(description="client_id is not the assertion's subject")
        client: HubClient | None = super().__call__(query_client, request)
        return client

    def get_audiences(self) -> list[str]:
        return [self.server.settings.issuer, self.server.settings.issuer + "/oauth/token"]

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidClientError(description="assertions must be signed ES256 or RS256")
        return headers, claims

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as error:
            raise InvalidClientError(description="the assertion does not verify") from error
        claims = token.claims
        issued, expires = claims.get("iat"), claims.get("exp")
        now = int(self.server.now.timestamp())
        if not isinstance(issued, int) or not isinstance(expires, int):
            raise InvalidClientError(description="the assertion needs numeric iat and exp")
        if issued > now + self.leeway or expires - issued > ASSERTION_MAX_LIFETIME.total_seconds():
            raise InvalidClientError(description="the assertion's lifetime is out of bounds")
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise InvalidClientError(description=f"assertion refused: {error.error}") from error
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="Issuer and Subject MUST match.")
        if not isinstance(claims.get("jti"), str) or not self.validate_jti(claims, claims["jti"]):
            raise InvalidClientError(description="the assertion's jti was already used")
        return claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        return self.server.claim_assertion(claims["sub"], jti, int(claims["exp"]))

    def resolve_client_public_key(self, client: HubClient) -> KeySet:
        if client.client.jwks is None:
            raise InvalidClientError(description="the client has no registered keys")
        return KeySet.import_key_set(cast(Any, client.client.jwks))


def _require_token(request: OAuth2Request) -> None:
    """RFC 7009 §2.1 and RFC 7662 §2.1: ``token`` is required; ``token_type_hint`` is only
    a hint, and one the server does not know is ignored (the search simply extends to every
    type), never an error."""
    if "token" not in request.form:
        raise InvalidRequestError(description="token is required")


class HubRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 for our JWT access tokens: revoking adds the ``jti`` to a denylist that the
    bearer check reads on every request, so it takes effect at once."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def check_params(self, request: OAuth2Request, client: HubClient) -> None:
        _require_token(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.decode(token_string)

    def authenticate_token(self, request: OAuth2Request, client: HubClient) -> Any:
        self.check_params(request, client)
        claims = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # A token of another client reads as unknown: RFC 7009 §2.2 answers 200 all the same.
        if claims is None or claims.client_id != client.get_client_id():
            return None
        return claims

    def revoke_token(self, token: AccessTokenClaims, request: OAuth2Request) -> None:
        self.server.revoke(token)


class HubIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662; a client may introspect only its own tokens, any other reads inactive."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def check_params(self, request: OAuth2Request, client: HubClient) -> None:
        _require_token(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.decode(token_string)

    def check_permission(self, token: AccessTokenClaims, client: HubClient, request: Any) -> bool:
        return token.client_id == client.get_client_id()

    def create_introspection_payload(self, token: AccessTokenClaims | None) -> dict[str, Any]:
        if token is None or self.server.is_revoked(token) or not self.server.is_active(token):
            return {"active": False}
        settings = self.server.settings
        return {
            "active": True,
            "client_id": token.client_id,
            "sub": token.client_id,
            "scope": " ".join(token.scopes),
            "token_type": "Bearer",
            "iss": settings.issuer,
            "aud": settings.resource,
            "iat": token.issued_at,
            "exp": token.expires_at,
            "jti": token.jti,
        }


class HubOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """A token-endpoint request already parsed by :mod:`hub.oauth2.endpoints`. Its URI is
    the configured issuer's, so authlib's https check sees the hub's public address rather
    than whatever host a proxy or test client used."""

    def __init__(self, uri: str, headers: dict[str, str], form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, session: Session, settings: Settings, now: datetime) -> None:
        super().__init__(scopes_supported=None)
        self.session = session
        self.settings = settings
        self.now = now
        self._client_auth = rfc6749.authenticate_client.ClientAuthentication(self.query_client)
        self._client_auth.register(AuthMethod.PRIVATE_KEY_JWT.value, PrivateKeyJWT(self))
        self.register_grant(HubClientCredentialsGrant)
        self.register_token_generator("default", self._generate_token)
        self.register_endpoint(HubRevocationEndpoint(server=self))
        self.register_endpoint(HubIntrospectionEndpoint(server=self))

    def create_oauth2_request(self, request: HubOAuth2Request) -> HubOAuth2Request:
        """Requests arrive already parsed (hub.oauth2.endpoints.parse_form)."""
        return request

    def query_client(self, client_id: str) -> HubClient | None:
        found = active_client(self.session, client_id, self.now)
        return None if found is None else HubClient(found, self.settings.secret_key)

    def _generate_token(
        self,
        grant_type: str,
        client: HubClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope).split()
        token, claims = issue_access_token(
            keys.current_key(self.session, self.settings.secret_key),
            issuer=self.settings.issuer,
            audience=self.settings.resource,
            client_id=client.get_client_id(),
            scopes=granted,
            now=self.now,
            lifetime=self.settings.access_token_lifetime,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": claims.expires_at - claims.issued_at,
            "scope": " ".join(granted),
        }

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """JWT access tokens are self-contained; nothing of them is stored."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners: the hub keeps no signal bus."""

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, headers

    def claim_assertion(self, client_id: str, jti: str, expires: int) -> bool:
        """True for the first use of this assertion id; the unique row makes two racing
        uses yield exactly one token."""
        return insert_if_absent(
            self.session,
            cast(Table, UsedAssertion.__table__),
            {"client_id": client_id, "jti": jti, "expires_at": _utc(expires)},
        )

    def decode(self, token: str) -> AccessTokenClaims | None:
        published = keys.published_keys(self.session, self.now, self.settings.access_token_lifetime)
        try:
            return verify_access_token(
                token,
                published,
                issuer=self.settings.issuer,
                audience=self.settings.resource,
                now=self.now,
            )
        except InvalidAccessToken:
            return None

    def is_revoked(self, token: AccessTokenClaims) -> bool:
        return self.session.get(RevokedToken, token.jti) is not None

    def is_active(self, token: AccessTokenClaims) -> bool:
        return active_client(self.session, token.client_id, self.now) is not None

    def revoke(self, token: AccessTokenClaims) -> None:
        insert_if_absent(
            self.session,
            cast(Table, RevokedToken.__table__),
            {
                "jti": token.jti,
                "client_id": token.client_id,
                "expires_at": _utc(token.expires_at),
                "revoked_at": self.now,
            },
        )


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
