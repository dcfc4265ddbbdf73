"""Account addresses (kind plus owner) and the flags each kind carries."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from core.db import insert_ignoring_conflicts
from ledger.models import Account, AccountKind

ALLIANCE_EXPIRED = "alliance:expired"
# The counter-account of settlement corrections: reconciliation's ADJUST posts between it
# and a partner's issued or redeemed account.
ALLIANCE_ADJUSTMENTS = "alliance:adjustments"

# The most points one member may hold, spendable and held together: a domain limit enforced
# by every posting that brings points into the member, so every per-member figure fits
# GraphQL's 32-bit Int. Totals across
# members have no such bound and are served as BigInt (docs/ledger.md).
MEMBER_BALANCE_MAX = 2**31 - 1

# (debits_must_not_exceed_credits, credits_must_not_exceed_debits) per kind.
# Member-side and sink accounts may never go below zero. Source-like accounts
# (a partner's issuance, a member's clawback debt) may never be paid back
# beyond what they gave out.
FLAGS: dict[AccountKind, tuple[bool, bool]] = {
    AccountKind.MEMBER: (True, False),
    AccountKind.MEMBER_HELD: (True, False),
    AccountKind.MEMBER_DEBT: (False, True),
    AccountKind.PARTNER_ISSUED: (False, True),
    AccountKind.PARTNER_REDEEMED: (True, False),
    AccountKind.ALLIANCE_EXPIRED: (True, False),
    AccountKind.ALLIANCE_ADJUSTMENTS: (False, False),
    AccountKind.CHARITY: (True, False),
}


def member(member_id: int) -> str:
    return f"member:{member_id}"


def member_held(member_id: int) -> str:
    return f"member:{member_id}:held"


def member_debt(member_id: int) -> str:
    return f"member:{member_id}:debt"


def kind_of(address: str) -> AccountKind | None:
    """An address's kind, read from its spelling; None for one no kind spells so."""
    parts = address.split(":")
    match parts:
        case ["member", _]:
            return AccountKind.MEMBER
        case ["member", _, "held"]:
            return AccountKind.MEMBER_HELD
        case ["member", _, "debt"]:
            return AccountKind.MEMBER_DEBT
        case ["partner", _, "issued"]:
            return AccountKind.PARTNER_ISSUED
        case ["partner", _, "redeemed"]:
            return AccountKind.PARTNER_REDEEMED
        case ["charity", _]:
            return AccountKind.CHARITY
        case ["alliance", "expired"]:
            return AccountKind.ALLIANCE_EXPIRED
        case ["alliance", "adjustments"]:
            return AccountKind.ALLIANCE_ADJUSTMENTS
    return None


SHARED_KINDS = frozenset(
    {
        AccountKind.PARTNER_ISSUED,
        AccountKind.PARTNER_REDEEMED,
        AccountKind.CHARITY,
        AccountKind.ALLIANCE_EXPIRED,
        AccountKind.ALLIANCE_ADJUSTMENTS,
    }
)


def never_refuses(address: str, side: str) -> bool:
    """True for a leg of a shared account (a partner's, a charity's, the alliance's) whose
    flags cannot refuse it: a credit to a sink, a debit from a source. Such a leg is
    applied at commit (repository.py), so the hot row is locked for the commit only."""
    kind = kind_of(address)
    if kind is None or kind not in SHARED_KINDS:
        return False
    debits_limited, credits_limited = FLAGS[kind]
    return not (debits_limited if side == "debit" else credits_limited)


def member_accounts(member_id: int) -> tuple[str, str, str]:
    """A member's spendable, held and debt accounts."""
    return member(member_id), member_held(member_id), member_debt(member_id)


def member_owner(account_id: str) -> int | None:
    """The member owning one of the member accounts (spendable, held, debt), else None."""
    kind, _, rest = account_id.partition(":")
    number = rest.split(":", 1)[0]
    return int(number) if kind == "member" and number.isdigit() else None


def partner_issued(partner_id: int) -> str:
    return f"partner:{partner_id}:issued"


def partner_redeemed(partner_id: int) -> str:
    return f"partner:{partner_id}:redeemed"


def charity(charity_id: int) -> str:
    return f"charity:{charity_id}"


def account_row(
    address: str, kind: AccountKind, owner_id: int | None, now: datetime
) -> dict[str, object]:
    debits_limited, credits_limited = FLAGS[kind]
    return {
        "id": address,
        "kind": kind.value,
        "owner_id": owner_id,
        "debits_must_not_exceed_credits": debits_limited,
        "credits_must_not_exceed_debits": credits_limited,
        "debits_posted": 0,
        "credits_posted": 0,
        "created_at": now,
    }


def _open(session: Session, now: datetime, *accounts: tuple[str, AccountKind, int | None]) -> None:
    rows = [account_row(address, kind, owner, now) for address, kind, owner in accounts]
    insert_ignoring_conflicts(session, cast(Table, Account.__table__), rows)


def open_member_accounts(session: Session, member_id: int, now: datetime) -> None:
    """Open a member's spendable, held and clawback-debt accounts; a no-op when they exist."""
    _open(
        session,
        now,
        (member(member_id), AccountKind.MEMBER, member_id),
        (member_held(member_id), AccountKind.MEMBER_HELD, member_id),
        (member_debt(member_id), AccountKind.MEMBER_DEBT, member_id),
    )


def open_partner_accounts(session: Session, partner_id: int, now: datetime) -> None:
    """Open a partner's issuance source and redemption sink; a no-op when they exist."""
    _open(
        session,
        now,
        (partner_issued(partner_id), AccountKind.PARTNER_ISSUED, partner_id),
        (partner_redeemed(partner_id), AccountKind.PARTNER_REDEEMED, partner_id),
    )


def open_charity_account(session: Session, charity_id: int, now: datetime) -> None:
    _open(session, now, (charity(charity_id), AccountKind.CHARITY, charity_id))


def open_alliance_accounts(session: Session, now: datetime) -> None:
    _open(
        session,
        now,
        (ALLIANCE_EXPIRED, AccountKind.ALLIANCE_EXPIRED, None),
        (ALLIANCE_ADJUSTMENTS, AccountKind.ALLIANCE_ADJUSTMENTS, None),
    )
