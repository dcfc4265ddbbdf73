"""The token endpoint's grants for members' sign-in: ``authorization_code`` with PKCE
(RFC 6749 §4.1.3, RFC 7636 §4.5) and ``refresh_token`` with rotation (RFC 6749 §6,
RFC 9700 §4.14.2). The app is a public client: it names itself by ``client_id`` and
proves nothing else; PKCE and the exact redirect URI bind the code to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from strawberry import relay

from core.config import Settings
from hub.oauth2 import keys
from hub.oauth2.tokens import InvalidAccessToken, issue_access_token, verify_access_token
from members.signin import (
    MEMBER_SCOPE,
    MemberTokens,
    SignInError,
    app_redirect_uris,
    exchange_code,
    revoke_refresh,
    revoke_session,
    rotate_refresh,
)

MEMBER_GRANTS = ("authorization_code", "refresh_token")
Response = tuple[int, dict[str, Any], list[tuple[str, str]]]


def member_subject(member_id: int) -> str:
    """``sub``: the member's opaque global id, the same as ``me { id }``."""
    return relay.to_base64("Member", member_id)


def _tokens(
    session: Session, settings: Settings, client_id: str, found: MemberTokens, now: datetime
) -> Response:
    token, claims = issue_access_token(
        keys.current_key(session, settings.secret_key),
        issuer=settings.issuer,
        audience=settings.resource,
        client_id=client_id,
        scopes=[MEMBER_SCOPE],
        now=now,
        lifetime=settings.access_token_lifetime,
        subject=member_subject(found.member_id),
        session=found.family,
    )
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": claims.expires_at - claims.issued_at,
        "refresh_token": found.refresh_token,
        "scope": MEMBER_SCOPE,
    }
    return 200, body, []


def _error(error: str, description: str) -> Response:
    return 400, {"error": error, "error_description": description}, []


def member_token_response(
    session: Session, settings: Settings, form: dict[str, str], now: datetime
) -> Response:
    client_id = form.get("client_id", "")
    if not client_id:
        return 401, {"error": "invalid_client", "error_description": "client_id is required"}, []
    try:
        if form["grant_type"] == "authorization_code":
            found: MemberTokens | None = exchange_code(
                session,
                settings.secret_key,
                client_id=client_id,
                code=form.get("code", ""),
                redirect_uri=form.get("redirect_uri", ""),
                code_verifier=form.get("code_verifier", ""),
                now=now,
            )
        else:
            found = rotate_refresh(
                session,
                settings.secret_key,
                client_id=client_id,
                token=form.get("refresh_token", ""),
                now=now,
            )
    except SignInError as error:
        return _error(error.error, error.message)
    if found is None:  # a code or refresh token used twice: its family is now revoked
        return _error("invalid_grant", "the grant was already used; sign in again")
    return _tokens(session, settings, client_id, found, now)


def member_revocation_response(
    session: Session, settings: Settings, form: dict[str, str], now: datetime
) -> Response:
    """RFC 7009 for the alliance's app, a public client (``client_id``, no secret): signing
    out. A refresh token, or an access token, ends its sign-in session: the refresh token
    family and every access token that carries it (``sid``). A token that is unknown, not a
    member token, or another app's changes nothing and is answered 200 alike (§2.2)."""
    client_id = form.get("client_id", "")
    if app_redirect_uris(session, client_id) is None:
        return 401, {"error": "invalid_client", "error_description": "unknown client"}, []
    token = form.get("token", "")
    if not token:
        return _error("invalid_request", "token is required")
    if revoke_refresh(session, settings.secret_key, client_id=client_id, token=token, now=now):
        return 200, {}, []
    try:
        claims = verify_access_token(
            token,
            keys.published_keys(session, now, settings.access_token_lifetime),
            issuer=settings.issuer,
            audience=settings.resource,
            now=now,
        )
    except InvalidAccessToken:
        return 200, {}, []
    if claims.client_id == client_id and claims.scopes == (MEMBER_SCOPE,) and claims.session:
        revoke_session(session, client_id=client_id, family=claims.session, now=now)
    return 200, {}, []
