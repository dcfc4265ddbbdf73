"""Recompute every ledger invariant from the transfers alone (``alliance-hub ledger verify``).

Each check is one set-based query that returns the rows breaking it, so the
verifier streams in constant memory however large the ledger is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

# Joins each account row ``a`` to the sums of its transfers, as ``d.total`` and ``c.total``.
POSTED = """LEFT JOIN (SELECT debit_account_id AS id, SUM(amount) AS total
                      FROM ledger_transfers GROUP BY debit_account_id) d ON d.id = a.id
           LEFT JOIN (SELECT credit_account_id AS id, SUM(amount) AS total
                      FROM ledger_transfers GROUP BY credit_account_id) c ON c.id = a.id"""


# (invariant, query returning (subject, detail) for each breach)
_CHECK_TEMPLATES: tuple[tuple[str, str], ...] = (
    (
        "transfer_balances",
        """SELECT 'transfer ' || CAST(t.id AS VARCHAR(20)),
                  'amount ' || CAST(t.amount AS VARCHAR(24)) || ' from '
                  || t.debit_account_id || ' to ' || t.credit_account_id
           FROM ledger_transfers t
           LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id
           LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id
           WHERE t.amount <= 0 OR t.debit_account_id = t.credit_account_id
              OR d.id IS NULL OR c.id IS NULL""",
    ),
    (
        "account_equals_transfers",
        """SELECT a.id,
                  'posted ' || CAST(a.debits_posted AS VARCHAR(24)) || '/'
                  || CAST(a.credits_posted AS VARCHAR(24)) || ', transfers give '
                  || CAST(COALESCE(d.total, 0) AS VARCHAR(24)) || '/'
                  || CAST(COALESCE(c.total, 0) AS VARCHAR(24))
           FROM ledger_accounts a
           {posted_a}
           WHERE a.debits_posted <> COALESCE(d.total, 0)
              OR a.credits_posted <> COALESCE(c.total, 0)""",
    ),
    (
        "no_forbidden_negative",
        """SELECT a.id,
                  'transfers give debits ' || CAST(COALESCE(d.total, 0) AS VARCHAR(24))
                  || ', credits ' || CAST(COALESCE(c.total, 0) AS VARCHAR(24))
           FROM ledger_accounts a
           {posted_a}
           WHERE (a.debits_must_not_exceed_credits
                  AND COALESCE(d.total, 0) > COALESCE(c.total, 0))
              OR (a.credits_must_not_exceed_debits
                  AND COALESCE(c.total, 0) > COALESCE(d.total, 0))""",
    ),
    (
        "member_balance_equals_lots",
        """SELECT 'member ' || CAST(a.owner_id AS VARCHAR(20)),
                  'balance ' || CAST(COALESCE(c.total, 0) - COALESCE(d.total, 0) AS VARCHAR(24))
                  || ', lots hold ' || CAST(COALESCE(l.total, 0) AS VARCHAR(24))
           FROM ledger_accounts a
           {posted_a}
           LEFT JOIN (SELECT member_id, SUM(remaining) AS total
                      FROM ledger_lots GROUP BY member_id) l ON l.member_id = a.owner_id
           WHERE a.kind = 'member'
             AND COALESCE(c.total, 0) - COALESCE(d.total, 0) <> COALESCE(l.total, 0)""",
    ),
    (
        "lots_belong_to_members",
        """SELECT 'lot ' || CAST(l.id AS VARCHAR(20)), 'member has no account'
           FROM ledger_lots l
           LEFT JOIN ledger_accounts m ON m.kind = 'member' AND m.owner_id = l.member_id
           WHERE m.id IS NULL""",
    ),
    (
        "lot_remaining_equals_allocations",
        """SELECT 'lot ' || CAST(l.id AS VARCHAR(20)),
                  'points ' || CAST(l.points AS VARCHAR(24)) || ' - allocated '
                  || CAST(COALESCE(a.total, 0) AS VARCHAR(24))
                  || ' - restored on ' || CAST(COALESCE(r.total, 0) AS VARCHAR(24))
                  || ' <> remaining ' || CAST(l.remaining AS VARCHAR(24))
           FROM ledger_lots l
           LEFT JOIN (SELECT lot_id, SUM(points) AS total
                      FROM ledger_allocations GROUP BY lot_id) a ON a.lot_id = l.id
           LEFT JOIN (SELECT restored_from_lot_id AS id, SUM(points) AS total
                      FROM ledger_lots WHERE restored_from_lot_id IS NOT NULL
                      GROUP BY restored_from_lot_id) r ON r.id = l.id
           WHERE l.points - COALESCE(a.total, 0) - COALESCE(r.total, 0) <> l.remaining""",
    ),
    (
        "lot_matches_its_issuing_transfer",
        """SELECT 'lot ' || CAST(l.id AS VARCHAR(20)), 'issuing transfer disagrees'
           FROM ledger_lots l JOIN ledger_transfers t ON t.id = l.earn_transfer_id
           WHERE l.restored_from_lot_id IS NULL
             AND (t.amount <> l.points OR t.code NOT IN ('earn', 'compensate')
              OR t.credit_account_id <> 'member:' || CAST(l.member_id AS VARCHAR(20))
              OR t.debit_account_id
                 <> 'partner:' || CAST(l.issuer_partner_id AS VARCHAR(20)) || '\\:issued')""",
    ),
    (
        "restored_lot_matches_its_lot_and_transfer",
        """SELECT 'lot ' || CAST(l.id AS VARCHAR(20)), 'restored from lot '
                  || CAST(o.id AS VARCHAR(20)) || ' by transfer '
                  || CAST(t.id AS VARCHAR(20)) || ', which disagree'
           FROM ledger_lots l
           JOIN ledger_lots o ON o.id = l.restored_from_lot_id
           JOIN ledger_transfers t ON t.id = l.earn_transfer_id
           LEFT JOIN (SELECT transfer_id, lot_id, SUM(points) AS total
                      FROM ledger_allocations
                      WHERE transfer_id IN (SELECT earn_transfer_id FROM ledger_lots
                                            WHERE restored_from_lot_id IS NOT NULL)
                      GROUP BY transfer_id, lot_id) a
                  ON a.transfer_id = t.id AND a.lot_id = o.id
           WHERE t.amount <> l.points OR t.code NOT IN ('void', 'refund')
              OR t.credit_account_id <> 'member:' || CAST(l.member_id AS VARCHAR(20))
              OR COALESCE(a.total, 0) <> -l.points
              OR o.member_id <> l.member_id OR o.issuer_partner_id <> l.issuer_partner_id
              OR l.expires_at <= o.expires_at""",
    ),
    (
        "allocations_match_transfers",
        """SELECT 'transfer ' || CAST(t.id AS VARCHAR(20)),
                  t.code || ' of ' || CAST(t.amount AS VARCHAR(24)) || ' allocated '
                  || CAST(COALESCE(a.total, 0) AS VARCHAR(24))
           FROM ledger_transfers t
           LEFT JOIN (SELECT transfer_id, SUM(points) AS total
                      FROM ledger_allocations GROUP BY transfer_id) a ON a.transfer_id = t.id
           WHERE (t.debit_account_id LIKE 'member:%' AND t.debit_account_id NOT LIKE '%:%:%'
                  AND COALESCE(a.total, 0) <> t.amount)
              OR (t.code IN ('void', 'refund') AND COALESCE(a.total, 0) <> -t.amount)
              OR (t.debit_account_id NOT LIKE 'member:%' AND t.code NOT IN ('void', 'refund')
                  AND a.total IS NOT NULL)""",
    ),
    (
        "reversal_names_its_original",
        """SELECT 'transfer ' || CAST(t.id AS VARCHAR(20)),
                  t.code || ' names original '
                  || COALESCE(CAST(o.id AS VARCHAR(20)), 'none')
           FROM ledger_transfers t
           LEFT JOIN ledger_transfers o ON o.id = t.original_transfer_id
           WHERE (t.code = 'refund'
                  AND (o.id IS NULL OR o.code NOT IN ('redeem', 'capture')
                       OR o.hold_id <> t.hold_id))
              OR (t.code = 'clawback' AND t.debit_account_id NOT LIKE '%\\:debt'
                  AND t.credit_account_id LIKE 'partner\\:%' AND o.id IS NULL)
              OR (t.code = 'clawback' AND o.id IS NOT NULL
                  AND (o.code NOT IN ('earn', 'compensate') OR o.member_id <> t.member_id
                       OR o.partner_id <> t.partner_id))
              OR (t.original_transfer_id IS NOT NULL
                  AND (t.code NOT IN ('clawback', 'refund', 'void')
                       OR o.created_at > t.created_at
                       OR t.original_at IS NULL OR t.original_at <> o.created_at))
              OR (t.original_transfer_id IS NULL AND t.original_at IS NOT NULL)""",
    ),
    (
        "held_equals_pending_holds",
        """SELECT a.id,
                  'held ' || CAST(COALESCE(c.total, 0) - COALESCE(d.total, 0) AS VARCHAR(24))
                  || ', pending holds ' || CAST(COALESCE(p.total, 0) AS VARCHAR(24))
           FROM ledger_accounts a
           {posted_a}
           LEFT JOIN (SELECT member_id, SUM(amount) AS total FROM ledger_holds
                      WHERE status = 'PENDING' GROUP BY member_id) p ON p.member_id = a.owner_id
           WHERE a.kind = 'member_held'
             AND COALESCE(c.total, 0) - COALESCE(d.total, 0) <> COALESCE(p.total, 0)""",
    ),
)

CHECKS = tuple((name, query.replace("{posted_a}", POSTED)) for name, query in _CHECK_TEMPLATES)

SUMMARY = """SELECT
    (SELECT COUNT(*) FROM ledger_accounts),
    (SELECT COUNT(*) FROM ledger_transfers),
    (SELECT COUNT(*) FROM ledger_lots),
    (SELECT COALESCE(SUM(credits_posted - debits_posted), 0)
       FROM ledger_accounts WHERE kind = 'member'),
    (SELECT COALESCE(SUM(credits_posted - debits_posted), 0)
       FROM ledger_accounts WHERE kind = 'member_held'),
    (SELECT COALESCE(SUM(debits_posted - credits_posted), 0)
       FROM ledger_accounts WHERE kind = 'member_debt')"""


@dataclass(frozen=True, slots=True)
class Breach:
    invariant: str
    subject: str
    detail: str


@dataclass(slots=True)
class Report:
    accounts: int = 0
    transfers: int = 0
    lots: int = 0
    member_points: int = 0
    held_points: int = 0
    clawback_debt: int = 0
    breaches: list[Breach] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.breaches

    def lines(self) -> list[str]:
        head = (
            f"{self.accounts} accounts, {self.transfers} transfers, {self.lots} lots; "
            f"members hold {self.member_points} points, {self.held_points} held, "
            f"{self.clawback_debt} owed as clawback debt"
        )
        if self.clean:
            return [f"ledger clean: {head}; {len(CHECKS)} invariants hold"]
        return [f"ledger BROKEN: {len(self.breaches)} breaches ({head})"] + [
            f"  {b.invariant}: {b.subject}: {b.detail}" for b in self.breaches
        ]


def verify(session: Session, max_breaches_per_check: int = 1000) -> Report:
    counts = session.execute(text(SUMMARY)).one()
    accounts, transfers, lots, member_points, held_points, clawback_debt = map(int, counts)
    report = Report(accounts, transfers, lots, member_points, held_points, clawback_debt)
    for invariant, query in CHECKS:
        rows = session.execute(text(query)).fetchmany(max_breaches_per_check)
        report.breaches.extend(
            Breach(invariant, str(subject), str(detail)) for subject, detail in rows
        )
    return report
