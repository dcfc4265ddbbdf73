"""Members sign in to the alliance's app: OAuth 2.0 authorization code with PKCE
(RFC 6749 §4.1, RFC 7636, S256 only) and a one-time code sent to the member's phone, then
rotating refresh tokens with reuse detection (RFC 9700 §4.14.2).

The app is a public client registered by the operator with exact redirect URIs. Sign-in
answers the same whether or not the phone belongs to a member: a code is sent only to a
member's phone, but the page, its timing class and its limits are the same."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto import hashes_equal, keyed_hash
from core.notify import Notification
from members.codes import (
    DEFAULT_BUDGETS,
    SendBudgets,
    app_sender,
    check_served,
    issue_code,
    phone_budget,
    redeem_code,
)
from members.errors import MemberError
from members.models import (
    AppClient,
    CodePurpose,
    Member,
    MemberSignIn,
    MemberStatus,
    RefreshToken,
)
from members.registration import PHONE_PURPOSE, normalise_phone

SIGN_IN_PURPOSE = "member-sign-in"
AUTHORIZATION_CODE_PURPOSE = "authorization-code"
REFRESH_PURPOSE = "refresh-token"
SESSION_PURPOSE = "member-session"
SIGN_IN_TTL = timedelta(minutes=10)
AUTHORIZATION_CODE_TTL = timedelta(minutes=1)
REFRESH_TTL = timedelta(days=30)
MEMBER_SCOPE = "member:self"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


class SignInError(MemberError):
    """An OAuth error (RFC 6749 §4.1.2.1, §5.2) with its wire code."""

    def __init__(self, error: str, description: str, *, redirect: bool = True) -> None:
        super().__init__(description)
        self.error = error
        # False when the client or redirect URI is not verified: the error must then be
        # shown, never sent to that URI (RFC 6749 §4.1.2.1).
        self.redirect = redirect


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    code_challenge: str
    state: str


def acceptable_redirect_uri(uri: str) -> bool:
    """RFC 9700 §2.1 and RFC 8252 §7: an absolute URI without a fragment, either https,
    http on the loopback interface, or a private-use scheme (reverse domain name)."""
    if len(uri) > 512 or any(c.isspace() for c in uri):
        return False
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http":
        return parts.hostname in {"127.0.0.1", "localhost", "::1"}
    return bool(re.fullmatch(r"[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+", parts.scheme))


def create_app_client(
    session: Session, *, name: str, redirect_uris: list[str], now: datetime
) -> str:
    """A public client for the alliance's app: no secret, exact redirect URIs."""
    if not name.strip() or len(name) > 100:
        raise MemberError("the name must be 1-100 characters")
    if not redirect_uris:
        raise MemberError("at least one redirect URI is needed")
    for uri in redirect_uris:
        if not acceptable_redirect_uri(uri):
            raise MemberError(f"not an acceptable redirect URI: {uri}")
    client_id = "app_" + secrets.token_urlsafe(16)
    session.add(
        AppClient(
            client_id=client_id,
            name=name.strip(),
            redirect_uris=json.dumps(redirect_uris),
            created_at=now,
        )
    )
    session.flush()
    return client_id


def app_redirect_uris(session: Session, client_id: str) -> list[str] | None:
    raw = session.execute(
        select(AppClient.redirect_uris).where(
            AppClient.client_id == client_id, AppClient.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    return None if raw is None else list(json.loads(raw))


def check_authorization_request(
    session: Session,
    *,
    response_type: str,
    client_id: str,
    redirect_uri: str,
    code_challenge: str,
    code_challenge_method: str,
    scope: str,
    state: str,
) -> AuthorizationRequest:
    """RFC 6749 §4.1.1 and RFC 7636 §4.3. A bad client or redirect URI raises with
    ``redirect=False``: the error must not be sent to an unverified URI (§4.1.2.1)."""
    uris = app_redirect_uris(session, client_id)
    if uris is None:
        raise SignInError("invalid_client", "unknown client", redirect=False)
    if redirect_uri not in uris:
        raise SignInError(
            "invalid_request", "the redirect URI is not registered for this app", redirect=False
        )
    if response_type != "code":
        raise SignInError("unsupported_response_type", "only response_type=code")
    if code_challenge_method != "S256" or not _CHALLENGE.fullmatch(code_challenge):
        raise SignInError("invalid_request", "PKCE with code_challenge_method=S256 is required")
    if scope and scope.split() != [MEMBER_SCOPE]:
        raise SignInError("invalid_scope", "the app may ask only for member:self")
    if len(state) > 500:
        raise SignInError("invalid_request", "state is too long")
    return AuthorizationRequest(client_id, redirect_uri, code_challenge, state)


def _secret_hash(secret_key: str, purpose: str, value: str) -> str:
    return keyed_hash(secret_key, purpose, value)


@dataclass(frozen=True, slots=True)
class StartedSignIn:
    handle: str
    notification: Notification | None


def start_sign_in(
    session: Session,
    secret_key: str,
    request: AuthorizationRequest,
    *,
    phone: str,
    address: str | None,
    now: datetime,
    budgets: SendBudgets = DEFAULT_BUDGETS,
) -> StartedSignIn:
    """Send a code to the phone if it belongs to an active member; either way the same
    handle, the same limits (the phone's sign-in budget, the caller address's, the app's)
    and the same answer."""
    normalised = normalise_phone(phone)
    check_served(normalised, budgets)
    phone_hash = keyed_hash(secret_key, PHONE_PURPOSE, normalised)
    handle = secrets.token_urlsafe(24)
    member_id = session.execute(
        select(Member.id).where(
            Member.phone_hash == phone_hash, Member.status == MemberStatus.ACTIVE
        )
    ).scalar_one_or_none()
    sign_in = MemberSignIn(
        handle_hash=_secret_hash(secret_key, SIGN_IN_PURPOSE, handle),
        client_id=request.client_id,
        redirect_uri=request.redirect_uri,
        code_challenge=request.code_challenge,
        state=request.state,
        member_id=member_id,
        created_at=now,
        expires_at=now + SIGN_IN_TTL,
    )
    session.add(sign_in)
    session.flush()
    issued = issue_code(
        session,
        secret_key,
        purpose=CodePurpose.SIGN_IN,
        subject_id=sign_in.id,
        phone_hash=phone_hash,
        budget=phone_budget(CodePurpose.SIGN_IN),
        sender=app_sender(request.client_id),
        address=address,
        now=now,
        budgets=budgets,
    )
    if member_id is None:
        return StartedSignIn(handle, None)
    text = f"Your alliance sign-in code: {issued.code} (valid 5 minutes). Never share it."
    return StartedSignIn(
        handle, Notification(to=normalised, kind="sign-in", text=text, code=issued.code)
    )


def _sign_in(
    session: Session, secret_key: str, handle: str, now: datetime, *, verified: bool
) -> MemberSignIn:
    """The open sign-in behind ``handle``: waiting for its code, or (``verified``) with
    the phone proven and no authorization code issued yet."""
    found = session.execute(
        select(MemberSignIn)
        .where(MemberSignIn.handle_hash == _secret_hash(secret_key, SIGN_IN_PURPOSE, handle))
        .with_for_update()
    ).scalar_one_or_none()
    if (
        found is None
        or found.expires_at <= now
        or found.authorized_at is not None
        or (found.verified_at is not None) != verified
    ):
        raise SignInError("access_denied", "this sign-in has expired; start again")
    return found


def finish_sign_in(
    session: Session, secret_key: str, *, handle: str, code: str, now: datetime
) -> int | None:
    """The member, once the phone's code is right; None for a wrong code (commit anyway:
    the attempt counts). A phone that is no member's never succeeds, and fails exactly like
    a wrong code. The member may then answer consent requests (``signed_in_member``)
    before ``authorize`` sends them back to the app."""
    sign_in = _sign_in(session, secret_key, handle, now, verified=False)
    if (
        not redeem_code(
            session,
            secret_key,
            purpose=CodePurpose.SIGN_IN,
            subject_id=sign_in.id,
            code=code,
            now=now,
        )
        or sign_in.member_id is None
    ):
        return None
    sign_in.verified_at = now
    session.flush()
    return sign_in.member_id


def signed_in_member(session: Session, secret_key: str, *, handle: str, now: datetime) -> int:
    """The member whose phone this sign-in proved (within its 10 minutes)."""
    member_id = _sign_in(session, secret_key, handle, now, verified=True).member_id
    assert member_id is not None
    return member_id


def authorize(
    session: Session, secret_key: str, *, handle: str, now: datetime
) -> tuple[AuthorizationRequest, str]:
    """The authorization request and a fresh authorization code for the app."""
    sign_in = _sign_in(session, secret_key, handle, now, verified=True)
    authorization_code = secrets.token_urlsafe(32)
    sign_in.code_hash = _secret_hash(secret_key, AUTHORIZATION_CODE_PURPOSE, authorization_code)
    sign_in.authorized_at = now
    session.flush()
    request = AuthorizationRequest(
        sign_in.client_id, sign_in.redirect_uri, sign_in.code_challenge, sign_in.state
    )
    return request, authorization_code


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class MemberTokens:
    member_id: int
    refresh_token: str
    # The refresh token family: the access tokens carry it (``sid``) and stop with it.
    family: str


def exchange_code(
    session: Session,
    secret_key: str,
    *,
    client_id: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    now: datetime,
) -> MemberTokens | None:
    """RFC 6749 §4.1.3 with RFC 7636 §4.6: the code once, for its client and redirect URI,
    with the verifier whose S256 is the challenge. A second use fails (and the tokens the
    first use got stay valid only until they are rotated: codes live one minute)."""
    sign_in = session.execute(
        select(MemberSignIn)
        .where(MemberSignIn.code_hash == _secret_hash(secret_key, AUTHORIZATION_CODE_PURPOSE, code))
        .with_for_update()
    ).scalar_one_or_none()
    if (
        sign_in is None
        or sign_in.exchanged_at is not None
        or sign_in.authorized_at is None
        or sign_in.authorized_at + AUTHORIZATION_CODE_TTL <= now
        or sign_in.client_id != client_id
        or sign_in.redirect_uri != redirect_uri
        or sign_in.member_id is None
    ):
        if sign_in is not None and sign_in.exchanged_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what its first use obtained
            # (committed by the caller, which answers invalid_grant).
            _revoke_family(session, _family(secret_key, sign_in.id), now)
            return None
        raise SignInError("invalid_grant", "the authorization code is not valid")
    if not _VERIFIER.fullmatch(code_verifier) or not hashes_equal(
        _s256(code_verifier), sign_in.code_challenge
    ):
        raise SignInError("invalid_grant", "the code_verifier does not match")
    sign_in.exchanged_at = now
    session.flush()
    family = _family(secret_key, sign_in.id)
    return MemberTokens(
        sign_in.member_id,
        _new_refresh(session, secret_key, sign_in.member_id, client_id, family, now),
        family,
    )


def _family(secret_key: str, sign_in_id: int) -> str:
    """The family of the refresh tokens one sign-in obtains: found again from the sign-in
    (a replayed authorization code revokes it), opaque to whoever reads the access token's
    ``sid`` (it does not count sign-ins)."""
    return "s_" + keyed_hash(secret_key, SESSION_PURPOSE, str(sign_in_id))[:30]


def family_revoked(session: Session, family: str) -> bool:
    """Whether this sign-in session was revoked (reuse detected, or a replayed code)."""
    return (
        session.execute(
            select(RefreshToken.id)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_not(None))
            .limit(1)
        ).first()
        is not None
    )


def _revoke_family(session: Session, family: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _new_refresh(
    session: Session, secret_key: str, member_id: int, client_id: str, family: str, now: datetime
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_secret_hash(secret_key, REFRESH_PURPOSE, token),
            family=family,
            member_id=member_id,
            client_id=client_id,
            created_at=now,
            expires_at=now + REFRESH_TTL,
        )
    )
    session.flush()
    return token


def rotate_refresh(
    session: Session, secret_key: str, *, client_id: str, token: str, now: datetime
) -> MemberTokens | None:
    """RFC 9700 §4.14.2: each refresh token works once and is replaced. Presenting one
    already used means it leaked: the whole family is revoked, and the caller answers
    ``invalid_grant`` after committing (None)."""
    row = session.execute(
        select(RefreshToken)
        .where(RefreshToken.token_hash == _secret_hash(secret_key, REFRESH_PURPOSE, token))
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.client_id != client_id:
        raise SignInError("invalid_grant", "the refresh token is not valid")
    if row.used_at is not None:
        _revoke_family(session, row.family, now)
        return None
    member_active = session.execute(
        select(Member.id).where(Member.id == row.member_id, Member.status == MemberStatus.ACTIVE)
    ).scalar_one_or_none()
    if row.revoked_at is not None or row.expires_at <= now or member_active is None:
        raise SignInError("invalid_grant", "the refresh token is not valid")
    row.used_at = now
    session.flush()
    return MemberTokens(
        row.member_id,
        _new_refresh(session, secret_key, row.member_id, client_id, row.family, now),
        row.family,
    )


def active_member_app(session: Session, client_id: str, member_id: int) -> bool:
    """Whether an app's member token still stands: the app and the member both active."""
    return (
        session.execute(
            select(Member.id)
            .join(AppClient, AppClient.client_id == client_id)
            .where(
                Member.id == member_id,
                Member.status == MemberStatus.ACTIVE,
                AppClient.revoked_at.is_(None),
            )
        ).scalar_one_or_none()
        is not None
    )


def revoke_refresh(
    session: Session, secret_key: str, *, client_id: str, token: str, now: datetime
) -> bool:
    """RFC 7009 for the app: the refresh token's sign-in session ends (its whole family,
    and with it the access tokens that carry it). Only the app it was issued to may."""
    family = session.execute(
        select(RefreshToken.family).where(
            RefreshToken.token_hash == _secret_hash(secret_key, REFRESH_PURPOSE, token),
            RefreshToken.client_id == client_id,
        )
    ).scalar_one_or_none()
    if family is None:
        return False
    _revoke_family(session, family, now)
    return True


def revoke_session(session: Session, *, client_id: str, family: str, now: datetime) -> None:
    """End a sign-in session named by an access token's ``sid``, for the app it belongs to."""
    session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.family == family,
            RefreshToken.client_id == client_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
