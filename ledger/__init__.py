"""The double-entry points ledger. The only package that writes ledger rows.

Every operation is a plain function over a synchronous SQLAlchemy ``Session``
that never commits; the caller's unit of work (``core.db.Database.write``) does.
"""

from ledger import results
from ledger.accounts import (
    open_alliance_accounts,
    open_charity_account,
    open_member_accounts,
    open_partner_accounts,
)
from ledger.adjustment import adjust
from ledger.donation import donate
from ledger.earning import Issue, earn, issue, reverse_earn
from ledger.expiry import Forfeiture, expire_lapsed_lots, forfeit_member_points
from ledger.idempotency import IdempotencyKey, keep_with_result, kept_figures, run_idempotent
from ledger.redemption import (
    FundCompensation,
    Take,
    capture,
    redeem,
    refund,
    reserve,
    take,
    void,
    void_lapsed_holds,
)
from ledger.repository import HoldState, lock_all_accounts, lock_member
from ledger.verify import verify

__all__ = [
    "Forfeiture",
    "FundCompensation",
    "HoldState",
    "IdempotencyKey",
    "Issue",
    "Take",
    "adjust",
    "capture",
    "donate",
    "earn",
    "expire_lapsed_lots",
    "forfeit_member_points",
    "issue",
    "keep_with_result",
    "kept_figures",
    "lock_all_accounts",
    "lock_member",
    "open_alliance_accounts",
    "open_charity_account",
    "open_member_accounts",
    "open_partner_accounts",
    "redeem",
    "refund",
    "reserve",
    "results",
    "reverse_earn",
    "run_idempotent",
    "take",
    "verify",
    "void",
    "void_lapsed_holds",
]
