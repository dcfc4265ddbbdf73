"""Settlement invariants on random ledgers: the nets plus the operator's revenue sum to
zero, each statement equals what a per-transfer oracle computes from the ledger (prices
changing mid-period included; refunds and clawbacks priced at their originals' terms, a
clawback debt credited only as it is repaid), the hub's reconciliation lines add up to the
statements' points, and closing freezes exactly the computed statements."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from ledger.errors import LedgerError
from ledger.models import Transfer
from ledger.queries import balances
from partners.registry import add_partner
from partners.terms import set_settlement_terms
from settlement.closing import close_period
from settlement.models import ReconLine
from settlement.periods import open_period, statements_of
from settlement.reconciliation import reconcile, resolve_line, unresolved_lines
from settlement.statements import compute_statements, price_windows, provenance
from tests.stores import Templates

BASE = datetime(2026, 3, 1, tzinfo=UTC)
END = BASE + timedelta(days=1)
MICRO = Decimal(1_000_000)

prices = st.integers(0, 2_000_000).map(lambda n: Decimal(n) / MICRO)
fees = st.integers(0, 100_000).map(lambda n: Decimal(n) / MICRO)


@dataclass(frozen=True)
class Terms:
    issue: Decimal
    reimbursement: Decimal
    fee: Decimal


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    partners = []
    for _ in range(3):
        first = Terms(draw(prices), draw(prices), draw(fees))
        change = draw(st.none() | st.integers(1, 1_439))
        later = Terms(draw(prices), draw(prices), draw(fees)) if change else None
        partners.append((first, change, later))
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "earn",
                        "redeem",
                        "refund",
                        "reverse",
                        "earn",
                        "redeem",
                        "donate",
                        "debt",
                        "refund",
                    ]
                ),
                st.integers(0, 2),
                st.integers(1, 400),
                st.integers(-120, 1_560),  # minutes from the period's start; some outside
            ),
            min_size=1,
            max_size=25,
        )
    )
    return {"partners": partners, "ops": sorted(ops, key=lambda op: op[3])}


def _fen(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _price(
    t: Any, transfers: dict[int, Any], terms: dict[int, list[tuple[datetime, Terms]]]
) -> Terms | None:
    """The terms a transfer is settled at: those in force at its time, or for a refund or a
    clawback (points taken back or a debt repaid), those its original was settled at; None
    for a clawback debt recorded, which settles nothing until repaid."""
    if t.code in ("refund", "clawback"):
        assert t.original_transfer_id is not None, t  # every one names its original now
        if t.debit_account_id.endswith(":debt"):
            return None
        at = transfers[t.original_transfer_id].created_at
    else:
        at = t.created_at
    return [p for since, p in terms[t.partner_id] if since <= at][-1]


def _oracle(
    transfers: list[Any], terms: dict[int, list[tuple[datetime, Terms]]]
) -> dict[int, dict[str, int]]:
    """Each transfer priced on its own (``_price``)."""
    by_id = {t.id: t for t in transfers}
    money: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for t in transfers:
        if t.partner_id not in terms or not BASE <= t.created_at < END:
            continue
        price = _price(t, by_id, terms)
        if price is None:
            continue
        m = money[t.partner_id]
        if t.code == "earn":
            m["issue"] += t.amount * price.issue
        elif t.code == "compensate":
            m["compensation"] += t.amount * price.issue
        elif t.code == "clawback":
            m["reversal"] += t.amount * price.issue
        elif t.code in ("redeem", "capture", "donate"):
            m["reimbursement"] += t.amount * price.reimbursement
            m["fee"] += t.amount * price.reimbursement * price.fee
        elif t.code == "refund":
            m["refund"] += t.amount * price.reimbursement
            m["fee"] -= t.amount * price.reimbursement * price.fee
    found = {}
    for partner_id, m in money.items():
        rounded = {k: _fen(v) for k, v in m.items()}
        rounded["net"] = (
            rounded.get("reimbursement", 0)
            - rounded.get("refund", 0)
            + rounded.get("reversal", 0)
            - rounded.get("issue", 0)
            - rounded.get("compensation", 0)
            - rounded.get("fee", 0)
        )
        found[partner_id] = rounded
    return found


KINDS = {
    "earn": "AWARD",
    "clawback": "REVERSAL",
    "redeem": "REDEMPTION",
    "capture": "REDEMPTION",
    "donate": "REDEMPTION",
    "refund": "REFUND",
    "compensate": "COMPENSATION",
}


def _line_oracle(
    transfers: list[Any], terms: dict[int, list[tuple[datetime, Terms]]]
) -> dict[tuple[int, str, str], tuple[int, int]]:
    """The hub's lines: per partner, kind and reference, the points and the money of their
    own transfers' prices, half-even once per line."""
    by_id = {t.id: t for t in transfers}
    points: dict[tuple[int, str, str], int] = defaultdict(int)
    money: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    for t in transfers:
        if t.partner_id not in terms or not BASE <= t.created_at < END or t.code not in KINDS:
            continue
        price = _price(t, by_id, terms)
        if price is None:
            continue
        if t.code in ("earn", "clawback") and t.order_ref is not None:
            reference = f"order:{t.order_ref}"
        elif t.hold_id is not None:
            reference = f"hold:{t.hold_id}"
        else:
            reference = f"transfer:{t.id}"
        each = price.issue if t.code in ("earn", "clawback", "compensate") else price.reimbursement
        key = (t.partner_id, KINDS[t.code], reference)
        points[key] += t.amount
        money[key] += t.amount * each
    return {key: (points[key], _fen(money[key])) for key in points}


async def _play(database: Database, scenario: dict[str, Any]) -> None:
    terms: dict[int, list[tuple[datetime, Terms]]] = {}

    def setup(session: Session) -> list[int]:
        ids = []
        for index, (first, change, later) in enumerate(scenario["partners"]):
            partner = add_partner(
                session, code=f"p{index}", name=f"P{index}", legal_entity="", now=BASE
            )
            ids.append(partner.id)
            history = [(BASE - timedelta(days=1), first)]
            if later is not None:
                history.append((BASE + timedelta(minutes=change), later))
            for at, price in history:
                set_settlement_terms(
                    session,
                    partner_code=f"p{index}",
                    issue_price_per_point_fen=str(price.issue),
                    reimbursement_per_point_fen=str(price.reimbursement),
                    operator_fee_rate=str(price.fee),
                    cycle="MONTHLY",
                    now=BASE - timedelta(days=2),
                    effective_at=at,
                )
            terms[partner.id] = history
        ledger.open_member_accounts(session, 1, BASE - timedelta(days=1))
        for charity in range(1, 4):
            ledger.open_charity_account(session, charity, BASE - timedelta(days=1))
        return ids

    ids = await database.write(setup)
    lots: list[tuple[int, int]] = []
    holds: list[tuple[int, int]] = []
    for n, (kind, index, points, minute) in enumerate(scenario["ops"]):
        at = BASE + timedelta(minutes=minute)
        partner_id = ids[index]
        key = ledger.IdempotencyKey("test", f"op-{n}")
        try:
            if kind == "earn":
                earned = await database.write(
                    ledger.earn,
                    key,
                    member_id=1,
                    partner_id=partner_id,
                    points=points,
                    order_ref=f"o{n}",
                    expires_at=at + timedelta(days=365),
                    now=at,
                )
                lots.append((earned.lot_id, partner_id))
            elif kind == "redeem":
                taken = await database.write(
                    ledger.redeem, key, member_id=1, partner_id=partner_id, amount=points, now=at
                )
                holds.append((taken.hold_id, partner_id))
            elif kind == "refund" and holds:
                hold_id, owner = holds.pop(points % len(holds))
                await database.write(
                    ledger.refund,
                    key,
                    hold_id=hold_id,
                    now=at,
                    compensation_points=points % 50,
                    compensation_expires_at=at + timedelta(days=30),
                    partner_id=owner,
                )
            elif kind == "donate":
                await database.write(
                    ledger.donate,
                    key,
                    member_id=1,
                    charity_id=index + 1,
                    points=points,
                    now=at,
                    partner_id=partner_id,
                )
            elif kind == "debt":
                # Earned here, spent at the next partner, reversed: a clawback debt owed to
                # this partner, repaid by the member's later earnings and refunds.
                earned = await database.write(
                    ledger.earn,
                    ledger.IdempotencyKey("test", f"op-{n}-earn"),
                    member_id=1,
                    partner_id=partner_id,
                    points=points,
                    order_ref=f"o{n}",
                    expires_at=at + timedelta(days=365),
                    now=at,
                )
                spendable = await database.read(lambda s: balances(s, [1])[1].balance)
                taken = await database.write(
                    ledger.redeem,
                    ledger.IdempotencyKey("test", f"op-{n}-spend"),
                    member_id=1,
                    partner_id=ids[(index + 1) % 3],
                    amount=spendable,
                    now=at,
                )
                holds.append((taken.hold_id, ids[(index + 1) % 3]))
                await database.write(
                    ledger.reverse_earn, key, lot_id=earned.lot_id, now=at, partner_id=partner_id
                )
            elif kind == "reverse" and lots:
                lot_id, owner = lots.pop(points % len(lots))
                await database.write(
                    ledger.reverse_earn, key, lot_id=lot_id, now=at, partner_id=owner
                )
        except LedgerError:
            continue  # e.g. not enough points: the ledger refused, nothing was written

    computed = await database.read(compute_statements, "MONTHLY", BASE, END)
    transfers = await database.read(
        lambda s: s.execute(
            select(
                Transfer.id,
                Transfer.partner_id,
                Transfer.code,
                Transfer.amount,
                Transfer.created_at,
                Transfer.credit_account_id,
                Transfer.order_ref,
                Transfer.hold_id,
                Transfer.debit_account_id,
                Transfer.original_transfer_id,
            )
        ).all()
    )
    expected = _oracle(list(transfers), terms)
    by_id = {t.id: t for t in transfers}
    for t in transfers:  # what the generated ledgers hold (--hypothesis-show-statistics)
        if t.code == "clawback" and t.debit_account_id.endswith(":debt"):
            event("a clawback debt recorded")
        elif t.code == "clawback" and t.credit_account_id.endswith(":debt"):
            event("a clawback debt repaid")
        if t.original_transfer_id is not None:
            then = [at for at, _ in terms.get(t.partner_id, []) if at <= t.created_at]
            if then and by_id[t.original_transfer_id].created_at < then[-1]:
                event(f"a {t.code} across a change of terms")

    assert sum(s.net_fen for s in computed.statements) + computed.operator_revenue_fen == 0
    got = {
        s.partner_id: {
            "issue": s.issue_fen,
            "compensation": s.compensation_fen,
            "reversal": s.reversal_fen,
            "reimbursement": s.reimbursement_fen,
            "refund": s.refund_fen,
            "fee": s.fee_fen,
            "net": s.net_fen,
        }
        for s in computed.statements
    }
    for partner_id, figures in expected.items():
        assert {k: got[partner_id].get(k, 0) for k in figures} == figures
    assert set(got) <= set(expected)

    period = await database.write(
        open_period, cycle="MONTHLY", starts_at=BASE, ends_at=END, now=END
    )
    await database.write(reconcile, period.id, END + timedelta(hours=1))

    def hub_lines(session: Session) -> dict[tuple[int, str, str], tuple[int, int]]:
        rows = session.execute(
            select(
                ReconLine.partner_id,
                ReconLine.kind,
                ReconLine.ref_key,
                ReconLine.hub_points,
                ReconLine.hub_fen,
            ).where(ReconLine.period_id == period.id, ReconLine.hub_points.is_not(None))
        )
        return {(p, k, r): (int(n), int(f)) for p, k, r, n, f in rows}

    lines = await database.read(hub_lines)
    assert lines == _line_oracle(list(transfers), terms)
    for s in computed.statements:
        for kind, points in (
            ("AWARD", s.issued_points),
            ("REDEMPTION", s.redeemed_points),
            ("REFUND", s.refunded_points),
            ("REVERSAL", s.reversed_points),
            ("COMPENSATION", s.compensation_points),
        ):
            assert (
                sum(n for (p, k, _), (n, _) in lines.items() if (p, k) == (s.partner_id, kind))
                == points
            )

    # Provenance: per redeeming (or receiving charity) partner, the points spent there from
    # every issuer's lots add up to its redemptions (donations included) net of refunds.
    matrix = await database.read(
        lambda session: provenance(session, price_windows(session, "MONTHLY", BASE, END), BASE, END)
    )
    spent: dict[int, int] = defaultdict(int)
    for entry in matrix:
        spent[entry.redeemer_partner_id] += entry.points
    for s in computed.statements:
        assert spent.get(s.partner_id, 0) == s.redeemed_points - s.refunded_points
    donated = {t.partner_id for t in transfers if t.code == "donate" and BASE <= t.created_at < END}
    assert donated <= {entry.redeemer_partner_id for entry in matrix}

    def accept_all(session: Session) -> None:
        for line_id in unresolved_lines(session, period.id, status=None, partner_id=None):
            resolve_line(session, line_id, "ACCEPT_HUB", None, END + timedelta(hours=2))

    await database.write(accept_all)
    closed = await database.write(close_period, period.id, END + timedelta(hours=3))
    frozen = await database.read(statements_of, period.id)
    assert frozen.frozen
    assert frozen.statements == computed.statements
    assert closed.operator_revenue_fen == computed.operator_revenue_fen


@pytest.mark.slow
def test_random_ledgers_settle_to_zero_and_match_the_ledger(templates: Templates) -> None:
    @settings(
        max_examples=int(os.environ.get("HUB_SETTLEMENT_EXAMPLES", "20")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scenarios())
    def check(scenario: dict[str, Any]) -> None:
        url = templates.new_database()

        async def run() -> None:
            database = Database(url, pool_size=2)
            try:
                await _play(database, scenario)
            finally:
                await database.dispose()

        try:
            asyncio.run(run())
        finally:
            templates.drop(url)

    check()
