"""One-time codes sent to a member's phone: 6 digits, stored only as a keyed hash, valid
5 minutes, at most 5 attempts; and the limits on how many are sent, which apply alike
whether or not the phone belongs to a member:

- per phone, with a budget of its own for each purpose: signing in, and each partner's
  registrations and consent requests. No partner can spend the budget another purpose
  needs, so no partner can lock a member out of signing in (or out of another partner);
- per sender (a partner, or the app whose sign-in page asks), an hourly send budget
  against SMS pumping, and per caller address on the sign-in page (``SendBudgets``)."""

from __future__ import annotations

import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from compliance.audit import record_blocked
from compliance.models import BlockedAttempt
from core.crypto import hashes_equal, keyed_hash
from members.errors import MemberError
from members.models import OneTimeCode

CODE_PURPOSE = "one-time-code"
ADDRESS_PURPOSE = "caller-address"
CODE_LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
LIMIT_WINDOW = timedelta(minutes=15)
CODES_PER_PHONE = 5
# Each budget also has a daily cap per phone: it bounds how many codes anyone could guess
# at for one person (5 attempts each: 50 guesses a day, where 5 codes every 15 minutes
# alone allowed 2,400), and how many messages one purpose can send them.
CODES_PER_PHONE_DAY = 10
SENDER_WINDOW = timedelta(hours=1)
# The audit's rule id for a refused send (compliance_audit.rule is 8 characters).
SEND_LIMIT_RULE = "SMS-SEND"


@dataclass(frozen=True, slots=True)
class SendBudgets:
    """How many codes may go out: per partner and per app client in any hour, per caller
    address (the sign-in page) in any 15 minutes, and to which countries. Settings
    ``HUB_CODES_PER_PARTNER_HOUR``, ``HUB_CODES_PER_APP_HOUR``, ``HUB_CODES_PER_ADDRESS``,
    ``HUB_SMS_COUNTRY_CODES``."""

    per_partner_hour: int = 500
    per_app_hour: int = 2000
    per_address: int = 20
    # The country calling codes codes are sent to (``HUB_SMS_COUNTRY_CODES``; "*": any).
    country_codes: tuple[str, ...] = ("86",)


DEFAULT_BUDGETS = SendBudgets()


def partner_sender(partner_id: int) -> str:
    return f"partner:{partner_id}"


def app_sender(client_id: str) -> str:
    return f"app:{client_id}"


def phone_budget(purpose: str, partner_id: int | None = None) -> str:
    """The per-phone budget a code is counted in: signing in has one; each partner has
    one for its registrations and one for its consent requests."""
    return purpose if partner_id is None else f"{purpose}:{partner_id}"


class CodeRateLimited(MemberError):
    """Too many codes sent lately; ``retry_after`` seconds until the next may be sent."""

    code = "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many codes requested; try again in {retry_after} seconds")
        self.retry_after = retry_after


class SendLimitExceeded(CodeRateLimited):
    """The sender (a partner, or the app's sign-in page) used up its hourly send budget;
    it says nothing about the phone."""

    code = "SEND_LIMIT_EXCEEDED"

    def __init__(self, retry_after: int) -> None:
        MemberError.__init__(
            self,
            "your allowance of codes sent to phones is used up for now; "
            f"try again in {retry_after} seconds",
        )
        self.retry_after = retry_after


class PhoneNotServed(MemberError):
    """The phone's country is not one codes are sent to: it says nothing about whether the
    phone is a member's (SMS pumping lives on international premium routes)."""

    code = "PHONE_NOT_SERVED"

    def __init__(self) -> None:
        super().__init__(
            "codes are not served to this phone's country; use a phone of a country the "
            "alliance serves",
            ["phone"],
        )


def check_served(normalised_phone: str, budgets: SendBudgets) -> None:
    """Refuse a phone (E.164, ``+`` and digits) outside the served calling codes."""
    if "*" in budgets.country_codes:
        return
    digits = normalised_phone.lstrip("+")
    if not any(digits.startswith(code) for code in budgets.country_codes):
        raise PhoneNotServed()


class CodeRefused(MemberError):
    """Wrong, expired, used or exhausted: one answer for all, so nothing is learnt."""

    code = "INVALID_CODE"

    def __init__(self) -> None:
        super().__init__("the code is wrong or no longer valid; ask for a new one", ["code"])


@dataclass(frozen=True, slots=True)
class IssuedCode:
    id: int
    code: str


def _network(address: str) -> str:
    """What one caller holds: an IPv4 address, or an IPv6 /64 (a subscriber's usual
    allocation, so changing the last 64 bits does not make a new caller)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def address_hash(secret_key: str, address: str | None) -> str | None:
    """The caller's address for the per-address limit, hashed (never kept in the clear)."""
    return None if not address else keyed_hash(secret_key, ADDRESS_PURPOSE, _network(address))


def _code_hash(secret_key: str, purpose: str, subject_id: int, code: str) -> str:
    return keyed_hash(secret_key, CODE_PURPOSE, f"{purpose}:{subject_id}:{code}")


def _retry_after(
    session: Session, about: ColumnElement[bool], window: timedelta, limit: int, now: datetime
) -> int:
    """Seconds until fewer than ``limit`` codes matching ``about`` fall in ``window``."""
    recent = (
        session.execute(
            select(OneTimeCode.created_at)
            .where(about, OneTimeCode.created_at > now - window)
            .order_by(OneTimeCode.created_at.desc())
            .limit(max(limit, 0))
        )
        .scalars()
        .all()
    )
    if limit > 0 and len(recent) < limit:
        return 0
    oldest = recent[-1] if recent else now
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def check_send_limits(
    session: Session,
    *,
    phone_hash: str | None,
    budget: str,
    sender: str | None,
    address: str | None,
    now: datetime,
    budgets: SendBudgets,
) -> None:
    """The sender's hourly budget (``SendLimitExceeded``), then the caller address's and
    the phone's budget for this purpose (``CodeRateLimited``). The same queries run
    whether or not the phone is a member's."""
    if sender is not None:
        per_hour = (
            budgets.per_partner_hour if sender.startswith("partner:") else budgets.per_app_hour
        )
        wait = _retry_after(session, OneTimeCode.sender == sender, SENDER_WINDOW, per_hour, now)
        if wait:
            raise SendLimitExceeded(wait)
    waits = [0]
    if address is not None:
        waits.append(
            _retry_after(
                session,
                OneTimeCode.address_hash == address,
                LIMIT_WINDOW,
                budgets.per_address,
                now,
            )
        )
    if phone_hash is not None:
        same = (OneTimeCode.phone_hash == phone_hash) & (OneTimeCode.budget == budget)
        waits.append(_retry_after(session, same, LIMIT_WINDOW, CODES_PER_PHONE, now))
        waits.append(_retry_after(session, same, timedelta(days=1), CODES_PER_PHONE_DAY, now))
    if max(waits) > 0:
        raise CodeRateLimited(max(waits))


def audit_send_refusal(
    session: Session,
    *,
    client_id: str,
    partner_id: int | None,
    operation: str,
    now: datetime,
) -> bool:
    """Record a sender's exhausted budget in the compliance audit, once per client and
    hour (a flood of refused sends must not flood the audit). Whether it was recorded."""
    already = session.execute(
        select(BlockedAttempt.id)
        .where(
            BlockedAttempt.rule == SEND_LIMIT_RULE,
            BlockedAttempt.client_id == client_id,
            BlockedAttempt.at > now - SENDER_WINDOW,
        )
        .limit(1)
    ).first()
    if already is not None:
        return False
    record_blocked(
        session,
        client_id=client_id,
        partner_id=partner_id,
        operation=operation,
        rule=SEND_LIMIT_RULE,
        summary="the hourly budget of codes sent to phones is used up",
        now=now,
    )
    return True


def issue_code(
    session: Session,
    secret_key: str,
    *,
    purpose: str,
    subject_id: int,
    phone_hash: str | None,
    budget: str,
    sender: str | None,
    address: str | None = None,
    now: datetime,
    budgets: SendBudgets,
) -> IssuedCode:
    """A fresh code for ``(purpose, subject_id)``; earlier unused codes for it lapse.
    ``budget`` is the phone's budget it counts in (``phone_budget``), ``sender`` who sends
    it (``partner_sender``, ``app_sender``), ``address`` the caller's address already
    hashed (``address_hash``)."""
    check_send_limits(
        session,
        phone_hash=phone_hash,
        budget=budget,
        sender=sender,
        address=address,
        now=now,
        budgets=budgets,
    )
    session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.purpose == purpose,
            OneTimeCode.subject_id == subject_id,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    row = OneTimeCode(
        purpose=purpose,
        subject_id=subject_id,
        phone_hash=phone_hash,
        address_hash=address,
        budget=budget,
        sender=sender,
        code_hash=_code_hash(secret_key, purpose, subject_id, code),
        attempts=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return IssuedCode(row.id, code)


def redeem_code(
    session: Session, secret_key: str, *, purpose: str, subject_id: int, code: str, now: datetime
) -> bool:
    """Whether ``code`` is the live code for ``(purpose, subject_id)``; a right code is used
    up, a wrong one counts an attempt. The caller must commit either way (and refuse
    after committing), or the attempt would not count."""
    row = session.execute(
        select(OneTimeCode)
        .where(OneTimeCode.purpose == purpose, OneTimeCode.subject_id == subject_id)
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return False
    if row.attempts >= MAX_ATTEMPTS:
        return False
    given = code.strip()
    if not (len(given) == 6 and given.isdigit()) or not hashes_equal(
        _code_hash(secret_key, purpose, subject_id, given), row.code_hash
    ):
        row.attempts += 1
        session.flush()
        return False
    row.used_at = now
    session.flush()
    return True
