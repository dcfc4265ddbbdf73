"""OAuth clients: registration, secret rotation, revocation, and the lookup the
authorization server authenticates against. Secrets are shown once and stored only as
keyed hashes (core.crypto.keyed_hash)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from core.crypto import hashes_equal, keyed_hash
from partners.errors import (
    ClientNotFound,
    InvalidClientKeys,
    OperatorScopeForbidden,
    PartnerNotActive,
    SecretlessClient,
    UnknownScope,
)
from partners.models import (
    AuthMethod,
    ClientKind,
    ClientSecret,
    ClientStatus,
    OAuthClient,
    Partner,
    PartnerStatus,
)
from partners.registry import find_partner
from partners.scopes import ALL_SCOPES, OPERATOR_ADMIN, PARTNER_SCOPES

SECRET_PURPOSE = "oauth-client-secret"
ASSERTION_KEY_TYPES = {"EC": "P-256", "RSA": None}


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """What registration or rotation shows exactly once."""

    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    auth_method: str


@dataclass(frozen=True, slots=True)
class ActiveClient:
    """An active client of an active partner (or the operator), as the server sees it."""

    client_id: str
    kind: str
    partner_id: int | None
    partner_code: str | None
    auth_method: str
    scopes: tuple[str, ...]
    jwks: dict[str, Any] | None
    secret_hashes: tuple[str, ...]

    def secret_matches(self, secret_key: str, candidate: str) -> bool:
        digest = keyed_hash(secret_key, SECRET_PURPOSE, candidate)
        return any(hashes_equal(digest, stored) for stored in self.secret_hashes)


def _add_secret(session: Session, secret_key: str, client_id: str, now: datetime) -> str:
    """A new secret for the client; only its keyed hash is stored."""
    secret = f"ahs_{secrets.token_urlsafe(32)}"
    session.add(
        ClientSecret(
            client_id=client_id,
            secret_hash=keyed_hash(secret_key, SECRET_PURPOSE, secret),
            created_at=now,
        )
    )
    session.flush()
    return secret


def _checked_scopes(scopes: Sequence[str], kind: ClientKind) -> tuple[str, ...]:
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        raise UnknownScope(unknown)
    if kind is ClientKind.PARTNER and OPERATOR_ADMIN in scopes:
        raise OperatorScopeForbidden()
    return tuple(dict.fromkeys(scopes))


def checked_public_jwks(jwks: dict[str, Any]) -> str:
    """A client's assertion keys: public EC P-256 or RSA keys only, each with a ``kid``."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InvalidClientKeys('expected a JWK Set {"keys": [...]}')
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ASSERTION_KEY_TYPES:
            raise InvalidClientKeys("only EC P-256 (ES256) and RSA (RS256) keys are accepted")
        curve = ASSERTION_KEY_TYPES[key["kty"]]
        if curve and key.get("crv") != curve:
            raise InvalidClientKeys("EC keys must use curve P-256")
        if "d" in key or "p" in key:
            raise InvalidClientKeys("a private key was given; register only the public key")
    try:
        KeySet.import_key_set(cast(Any, jwks))
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidClientKeys(str(error)) from error
    return json.dumps(jwks, sort_keys=True)


def create_client(
    session: Session,
    secret_key: str,
    *,
    partner_code: str | None,
    scopes: Sequence[str],
    now: datetime,
    auth_method: AuthMethod = AuthMethod.CLIENT_SECRET_BASIC,
    jwks: dict[str, Any] | None = None,
) -> IssuedClient:
    """Register a client of ``partner_code``'s system, or of the operator when None."""
    kind = ClientKind.OPERATOR if partner_code is None else ClientKind.PARTNER
    partner_id = None
    if partner_code is not None:
        partner = find_partner(session, partner_code)
        if partner.status != PartnerStatus.ACTIVE:
            raise PartnerNotActive(partner_code)
        partner_id = partner.id
    granted = _checked_scopes(
        scopes or (PARTNER_SCOPES if partner_code else (OPERATOR_ADMIN,)), kind
    )
    stored_jwks = None
    if auth_method is AuthMethod.PRIVATE_KEY_JWT:
        if jwks is None:
            raise InvalidClientKeys("private_key_jwt needs the client's public JWK Set")
        stored_jwks = checked_public_jwks(jwks)
    client_id = f"ahc_{secrets.token_urlsafe(16)}"
    session.add(
        OAuthClient(
            client_id=client_id,
            kind=kind,
            partner_id=partner_id,
            auth_method=auth_method,
            scopes=" ".join(granted),
            jwks=stored_jwks,
            status=ClientStatus.ACTIVE,
            created_at=now,
        )
    )
    session.flush()  # the client row before its secret's foreign key
    secret = None
    if auth_method is not AuthMethod.PRIVATE_KEY_JWT:
        secret = _add_secret(session, secret_key, client_id, now)
    return IssuedClient(client_id, secret, granted, auth_method)


def _existing(session: Session, client_id: str) -> OAuthClient:
    client = session.get(OAuthClient, client_id)
    if client is None or client.status != ClientStatus.ACTIVE:
        raise ClientNotFound(client_id)
    return client


def rotate_secret(
    session: Session, secret_key: str, client_id: str, now: datetime, grace: timedelta
) -> IssuedClient:
    """Issue a new secret; the ones before it keep working for ``grace``, then expire."""
    client = _existing(session, client_id)
    if client.auth_method == AuthMethod.PRIVATE_KEY_JWT:
        raise SecretlessClient(client_id)
    session.execute(
        update(ClientSecret)
        .where(
            ClientSecret.client_id == client_id,
            or_(ClientSecret.expires_at.is_(None), ClientSecret.expires_at > now + grace),
        )
        .values(expires_at=now + grace)
    )
    secret = _add_secret(session, secret_key, client_id, now)
    return IssuedClient(client_id, secret, tuple(client.scopes.split()), client.auth_method)


def revoke_client(session: Session, client_id: str, now: datetime) -> None:
    """Revoke a client for good: no new tokens, and its live tokens stop at once."""
    client = _existing(session, client_id)
    client.status = ClientStatus.REVOKED
    client.revoked_at = now
    session.flush()


def active_clients(*columns: Any) -> Select[Any]:
    """``SELECT columns`` over clients that are active and whose partner (if any) is active."""
    return (
        select(*columns)
        .outerjoin(Partner, Partner.id == OAuthClient.partner_id)
        .where(
            OAuthClient.status == ClientStatus.ACTIVE,
            or_(OAuthClient.partner_id.is_(None), Partner.status == PartnerStatus.ACTIVE),
        )
    )


def active_client(session: Session, client_id: str, now: datetime) -> ActiveClient | None:
    """The client if it and its partner are active, with its unexpired secret hashes."""
    row = session.execute(
        active_clients(OAuthClient, Partner.code).where(OAuthClient.client_id == client_id)
    ).first()
    if row is None:
        return None
    client, partner_code = row
    hashes = session.execute(
        select(ClientSecret.secret_hash).where(
            ClientSecret.client_id == client_id,
            or_(ClientSecret.expires_at.is_(None), ClientSecret.expires_at > now),
        )
    ).scalars()
    return ActiveClient(
        client_id=client.client_id,
        kind=client.kind,
        partner_id=client.partner_id,
        partner_code=partner_code,
        auth_method=client.auth_method,
        scopes=tuple(client.scopes.split()),
        jwks=json.loads(client.jwks) if client.jwks else None,
        secret_hashes=tuple(hashes),
    )
