"""RFC 9068 JWT access tokens: issuing, and verifying everything but revocation."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from hub.oauth2.keys import ALGORITHM, CurrentKey, PublishedKey

TOKEN_TYPE = "at+jwt"
LEEWAY_SECONDS = 30


class InvalidAccessToken(Exception):
    """RFC 6750 §3.1 ``invalid_token``: malformed, forged, expired, revoked or not for us."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    jti: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    subject: str = ""
    # ``sid``: a member's sign-in session (its refresh token family); revoking the family
    # stops every access token that carries it.
    session: str = ""


def issue_access_token(
    key: CurrentKey,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scopes: Sequence[str],
    now: datetime,
    lifetime: timedelta,
    subject: str | None = None,
    session: str | None = None,
) -> tuple[str, AccessTokenClaims]:
    """RFC 9068 §2: ``typ: at+jwt``, signed ES256 with a ``kid``; ``sub`` is the client,
    or for a member's sign-in the member (RFC 9068 §2.2)."""
    issued_at = int(now.timestamp())
    claims = AccessTokenClaims(
        jti=secrets.token_urlsafe(16),
        client_id=client_id,
        scopes=tuple(scopes),
        issued_at=issued_at,
        expires_at=issued_at + int(lifetime.total_seconds()),
        subject=subject or client_id,
        session=session or "",
    )
    extra = {"sid": session} if session else {}
    token = jwt.encode(
        {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": key.kid},
        {
            **extra,
            "iss": issuer,
            "sub": claims.subject,
            "aud": audience,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "jti": claims.jti,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        },
        key.key,
        algorithms=[ALGORITHM],
    )
    return token, claims


def verify_access_token(
    token: str, keys: list[PublishedKey], *, issuer: str, audience: str, now: datetime
) -> AccessTokenClaims:
    """Check signature, type, issuer, audience and lifetime (RFC 9068 §4).

    A token signed by a retired key is accepted only until that key's window closes.
    """
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError) as error:
        raise InvalidAccessToken("the token is malformed") from error
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidAccessToken("not an RFC 9068 access token")
    signer = next((k for k in keys if k.jwk.get("kid") == header.get("kid")), None)
    if signer is None or (signer.verifies_until is not None and now >= signer.verifies_until):
        raise InvalidAccessToken("signed by a key the hub no longer accepts")
    try:
        claims = jwt.decode(token, ECKey.import_key(signer.jwk), algorithms=[ALGORITHM]).claims
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidAccessToken("the signature does not verify") from error
    registry = jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        client_id={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise InvalidAccessToken(f"the token is not valid here: {error.error}") from error
    scope = claims.get("scope", "")
    if not isinstance(scope, str) or not isinstance(claims["client_id"], str):
        raise InvalidAccessToken("malformed claims")
    return AccessTokenClaims(
        jti=str(claims["jti"]),
        client_id=claims["client_id"],
        scopes=tuple(scope.split()),
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        subject=str(claims.get("sub", "")),
        session=str(claims.get("sid", "")),
    )
