"""The double-entry points ledger. The only package that writes ledger rows.

Every operation is a plain function over a synchronous SQLAlchemy ``Session``
that never commits; the caller's unit of work (``hub.db.Database.write``) does.
"""

from ledger.accounts import open_charity_account, open_member_accounts, open_partner_accounts
from ledger.adjustment import adjust
from ledger.donation import donate
from ledger.earning import earn, reverse_earn
from ledger.expiry import expire_lapsed_lots
from ledger.idempotency import IdempotencyKey
from ledger.redemption import capture, redeem, refund, reserve, void, void_lapsed_holds
from ledger.verify import verify

__all__ = [
    "IdempotencyKey",
    "adjust",
    "capture",
    "donate",
    "earn",
    "expire_lapsed_lots",
    "open_charity_account",
    "open_member_accounts",
    "open_partner_accounts",
    "redeem",
    "refund",
    "reserve",
    "reverse_earn",
    "verify",
    "void",
    "void_lapsed_holds",
]
