"""The hub's sign-in and approval pages for members at /oauth/authorize (RFC 6749 §4.1.1,
RFC 7636).

Plain server-rendered HTML: no script, no third-party resource, a Content-Security-Policy
that allows none, and a CSRF token (a random cookie that each form must echo) on every
POST. Step one asks for the ``phone`` and sends a code; step two takes the ``code``; while
partners' consent requests wait, the approval page lets the member approve or deny each
(channel APP); then the member continues to the app with an authorization code. Phones
and codes are never logged."""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import secrets
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from core.config import Settings
from core.db import Database, utcnow
from core.notify import Notification, NotificationFailed, Notifier
from members.codes import (
    CodeRateLimited,
    SendBudgets,
    SendLimitExceeded,
    address_hash,
    audit_send_refusal,
)
from members.consent import (
    MEMBERSHIP_DATA,
    ConsentRequestView,
    answer_consent_request,
    pending_requests,
)
from members.errors import MemberError
from members.registration import partner_name
from members.signin import (
    AuthorizationRequest,
    SignInError,
    authorize,
    check_authorization_request,
    finish_sign_in,
    signed_in_member,
    start_sign_in,
)

log = logging.getLogger("alliance_hub.sign_in")
CSRF_COOKIE = "hub_csrf"
MAX_FORM_BYTES = 8 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "state",
)


def page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
        "label,input,button{display:block;margin:.5rem 0;font-size:1.1rem}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        document, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def hidden(name: str, value: str) -> str:
    return f'<input type=hidden name="{html.escape(name)}" value="{html.escape(value)}">'


def csrf_token(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def with_csrf_cookie(response: Response, token: str, secure: bool) -> Response:
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/"
    )
    return response


def csrf_valid(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = form.get("csrf_token", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), given.encode())


async def read_form(request: Request) -> dict[str, str] | None:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def error_page(description: str, status: int = 400) -> HTMLResponse:
    return page("Cannot sign in", f"<p>{html.escape(description)}</p>", status)


def redirect_to_app(request: AuthorizationRequest, **parameters: str) -> Response:
    query = urlencode({**parameters, "state": request.state} if request.state else parameters)
    separator = "&" if "?" in request.redirect_uri else "?"
    return RedirectResponse(
        f"{request.redirect_uri}{separator}{query}", status_code=303, headers=SECURITY_HEADERS
    )


class SignInPages:
    def __init__(self, database: Database, settings: Settings, notifier: Notifier) -> None:
        self.database = database
        self.settings = settings
        self.notifier = notifier
        self.secure = settings.issuer.startswith("https://")
        self.budgets = SendBudgets(
            per_partner_hour=settings.codes_per_partner_hour,
            per_app_hour=settings.codes_per_app_hour,
            per_address=settings.codes_per_address,
            country_codes=tuple(settings.sms_country_codes.split(",")),
        )
        self._deliveries: set[asyncio.Task[None]] = set()

    def _deliver_later(self, notification: Notification) -> None:
        """Only a member's phone gets a code, so sending it before answering would make
        the answer slower for members' phones (a timing oracle). It goes out after."""
        task = asyncio.create_task(self._deliver(notification))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, notification: Notification) -> None:
        try:
            await self.notifier.send(notification)
        except NotificationFailed as failed:  # carries no phone and no code
            log.warning("sign-in code not delivered: %s", failed)

    async def _checked(self, values: dict[str, str]) -> AuthorizationRequest:
        return await self.database.read(
            lambda session: check_authorization_request(
                session, **{name: values.get(name, "") for name in AUTHORIZE_PARAMETERS}
            )
        )

    def _phone_form(self, request: AuthorizationRequest, token: str, note: str = "") -> str:
        fields = "".join(
            hidden(name, value)
            for name, value in (
                ("step", "phone"),
                ("csrf_token", token),
                ("response_type", "code"),
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("code_challenge", request.code_challenge),
                ("code_challenge_method", "S256"),
                ("scope", "member:self"),
                ("state", request.state),
            )
        )
        return (f"<p>{html.escape(note)}</p>" if note else "") + (
            f'<form method=post action="/oauth/authorize">{fields}'
            "<label for=phone>Mobile phone number</label>"
            "<input id=phone name=phone type=tel autocomplete=tel required maxlength=32>"
            "<button type=submit>Send me a code</button></form>"
        )

    def _code_form(self, handle: str, token: str, note: str = "") -> str:
        return (f"<p>{html.escape(note)}</p>" if note else "") + (
            '<form method=post action="/oauth/authorize">'
            f"{hidden('step', 'code')}{hidden('csrf_token', token)}{hidden('sign_in', handle)}"
            "<label for=code>The 6-digit code sent to your phone</label>"
            "<input id=code name=code inputmode=numeric autocomplete=one-time-code "
            "pattern=[0-9]{6} maxlength=6 required>"
            "<button type=submit>Sign in</button></form>"
        )

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            return await self._start(request)
        form = await read_form(request)
        if form is None:
            return error_page("The form is too large.", 413)
        if not csrf_valid(request, form):
            return error_page("The form expired or came from elsewhere; start again.", 403)
        step = form.get("step")
        if step == "code":
            return await self._finish(request, form)
        if step == "answer":
            return await self._answer(form)
        if step == "continue":
            try:
                await self.database.read(
                    signed_in_member,
                    self.settings.secret_key,
                    handle=form.get("sign_in", ""),
                    now=utcnow(),
                )
            except SignInError as error:
                return error_page(error.message)
            return await self._continue(form.get("sign_in", ""))
        return await self._send(request, form)

    async def _start(self, request: Request) -> Response:
        values = dict(request.query_params)
        try:
            checked = await self._checked(values)
        except SignInError as error:
            if not error.redirect:
                return error_page(error.message)
            return redirect_to_app(
                AuthorizationRequest(
                    values.get("client_id", ""),
                    values.get("redirect_uri", ""),
                    "",
                    values.get("state", ""),
                ),
                error=error.error,
                error_description=error.message,
            )
        token = csrf_token(request)
        response = page("Sign in to the points alliance", self._phone_form(checked, token))
        return with_csrf_cookie(response, token, self.secure)

    async def _send(self, request: Request, form: dict[str, str]) -> Response:
        try:
            checked = await self._checked(form)
        except SignInError as error:
            return error_page(error.message)
        token = form["csrf_token"]
        address = address_hash(
            self.settings.secret_key, request.client.host if request.client else None
        )
        try:
            started = await self.database.write(
                start_sign_in,
                self.settings.secret_key,
                checked,
                phone=form.get("phone", ""),
                address=address,
                now=utcnow(),
                budgets=self.budgets,
            )
        except CodeRateLimited as limited:
            if isinstance(limited, SendLimitExceeded):
                await self.database.write(
                    audit_send_refusal,
                    client_id=checked.client_id,
                    partner_id=None,
                    operation="signIn",
                    now=utcnow(),
                )
            return page(
                "Too many codes",
                f"<p>{html.escape(limited.message)}</p>",
                429,
                {"Retry-After": str(limited.retry_after)},
            )
        except MemberError as error:
            return page(
                "Sign in to the points alliance",
                self._phone_form(checked, token, error.message),
                400,
            )
        if started.notification is not None:
            self._deliver_later(started.notification)
        return page(
            "Enter your code",
            self._code_form(
                started.handle, token, "If this number belongs to a member, a code is on its way."
            ),
        )

    async def _finish(self, request: Request, form: dict[str, str]) -> Response:
        handle = form.get("sign_in", "")
        try:
            member_id = await self.database.write(
                finish_sign_in,
                self.settings.secret_key,
                handle=handle,
                code=form.get("code", ""),
                now=utcnow(),
            )
        except SignInError as error:
            return error_page(error.message)
        if member_id is None:
            return page(
                "Enter your code",
                self._code_form(
                    handle, form["csrf_token"], "The code is wrong or no longer valid."
                ),
                400,
            )
        return await self._approvals_or_app(handle, form["csrf_token"], member_id)

    async def _approvals_or_app(
        self, handle: str, token: str, member_id: int, note: str = ""
    ) -> Response:
        """The approval page while partners' requests wait for the member; then the app."""
        waiting = await self.database.read(_pending_with_partners, member_id, utcnow())
        if not waiting:
            return await self._continue(handle)
        return page("Requests for your consent", approval_forms(waiting, handle, token, note))

    async def _continue(self, handle: str) -> Response:
        try:
            checked, authorization_code = await self.database.write(
                authorize, self.settings.secret_key, handle=handle, now=utcnow()
            )
        except SignInError as error:
            return error_page(error.message)
        return redirect_to_app(checked, code=authorization_code)

    async def _answer(self, form: dict[str, str]) -> Response:
        """The member approves or denies one request on the approval page (channel APP)."""
        handle = form.get("sign_in", "")
        approve = form.get("decision") == "approve"
        now = utcnow()
        try:
            member_id = await self.database.read(
                signed_in_member, self.settings.secret_key, handle=handle, now=now
            )
            answered = await self.database.write(
                answer_consent_request,
                member_id=member_id,
                request_id=_request_id(form.get("request", "")),
                approve=approve,
                now=now,
            )
        except SignInError as error:
            return error_page(error.message)
        except (MemberError, ValueError):
            return error_page("That request is no longer open.", 409)
        note = "Approved." if answered.status == "GRANTED" else "Denied."
        return await self._approvals_or_app(handle, form["csrf_token"], member_id, note)


def _request_id(value: str) -> int:
    """A request id from the form: 1-19 ASCII digits within a signed 64-bit integer, or
    -1 (found nowhere), never an error from the database."""
    if not (value.isascii() and value.isdigit() and len(value) <= 19):
        return -1
    number = int(value)
    return number if 0 < number < 2**63 else -1


def _pending_with_partners(
    session: Session, member_id: int, now: datetime
) -> list[tuple[ConsentRequestView, str]]:
    return [
        (view, partner_name(session, view.partner_id))
        for view in pending_requests(session, member_id, now)
    ]


def approval_forms(
    waiting: list[tuple[ConsentRequestView, str]], handle: str, token: str, note: str
) -> str:
    parts = [f"<p role=status>{html.escape(note)}</p>" if note else ""]
    for view, partner in waiting:
        data = MEMBERSHIP_DATA + (" and your credit level" if view.credit_level else "")
        common = hidden("step", "answer") + hidden("csrf_token", token)
        common += hidden("sign_in", handle) + hidden("request", str(view.id))
        parts.append(
            f'<section aria-label="{html.escape(partner)}"><h2>{html.escape(partner)}</h2>'
            f"<p>asks to see {html.escape(data)}, for: {html.escape(view.purpose)}.</p>"
            f'<form method=post action="/oauth/authorize">{common}'
            f"{hidden('decision', 'approve')}<button type=submit>Approve</button></form>"
            f'<form method=post action="/oauth/authorize">{common}'
            f"{hidden('decision', 'deny')}<button type=submit>Deny</button></form></section>"
        )
    parts.append(
        '<form method=post action="/oauth/authorize">'
        f"{hidden('step', 'continue')}{hidden('csrf_token', token)}{hidden('sign_in', handle)}"
        "<button type=submit>Continue to the app</button></form>"
    )
    return "".join(parts)
