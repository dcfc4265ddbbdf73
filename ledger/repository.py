"""The ledger's SQL. Only this module writes ledger rows.

Statements are built once at import so SQLAlchemy's compiled cache serves
every call; each posting costs as few round trips as the rules allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    Table,
    and_,
    bindparam,
    case,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from core import metrics
from ledger.accounts import (
    MEMBER_BALANCE_MAX,
    member,
    member_debt,
    member_held,
    member_owner,
    never_refuses,
)
from ledger.errors import (
    AccountNotFound,
    BalanceCeilingExceeded,
    InsufficientPoints,
    LimitExceeded,
    MemberToMemberTransfer,
)
from ledger.locks import held_locks, in_lock_order, note_all_locked, note_locks
from ledger.models import (
    Account,
    AccountKind,
    Allocation,
    Hold,
    Lot,
    Transfer,
)

accounts = cast(Table, Account.__table__)
transfers = cast(Table, Transfer.__table__)
lots = cast(Table, Lot.__table__)
allocations = cast(Table, Allocation.__table__)
holds = cast(Table, Hold.__table__)

_debit = bindparam("debit", type_=String)
_credit = bindparam("credit", type_=String)
_amount = bindparam("amount", type_=BigInteger)
_debt = bindparam("debt", type_=String)

_later_account = accounts.alias("later_account")
# Whether the account of a leg applied at commit exists, read with the immediate leg.
_later_exists = (
    select(func.count())
    .where(_later_account.c.id == bindparam("later", type_=String))
    .scalar_subquery()
)
# MEMBER_BALANCE_MAX bounds a member's spendable plus held points, checked when points
# arrive from outside the member. A move between the member's own spendable and held
# accounts (a hold, a void) leaves that total unchanged and is never refused by it, so an
# overdue hold can always be voided, whatever the member's balance.
_capped = bindparam("capped", type_=Boolean)
_sibling_account = accounts.alias("sibling_account")
_sibling_balance = (
    select(_sibling_account.c.credits_posted - _sibling_account.c.debits_posted)
    .where(_sibling_account.c.id == bindparam("sibling", type_=String))
    .scalar_subquery()
)
_debt_account = accounts.alias("debt_account")
_outstanding_debt = (
    select(_debt_account.c.debits_posted - _debt_account.c.credits_posted)
    .where(_debt_account.c.id == _debt)
    .scalar_subquery()
)

# Both legs of a transfer in one statement. A row is updated only if its flags
# allow the new balance, so the number of rows returned tells success. SQLite's single
# writer (BEGIN IMMEDIATE) already serialises postings, so this is its statement.
_APPLY = (
    update(accounts)
    .where(
        accounts.c.id.in_([_debit, _credit]),
        or_(
            and_(
                accounts.c.id == _debit,
                or_(
                    ~accounts.c.debits_must_not_exceed_credits,
                    accounts.c.credits_posted - accounts.c.debits_posted >= _amount,
                ),
            ),
            and_(
                accounts.c.id == _credit,
                or_(
                    ~accounts.c.credits_must_not_exceed_debits,
                    accounts.c.debits_posted - accounts.c.credits_posted >= _amount,
                ),
                or_(
                    ~_capped,
                    accounts.c.credits_posted
                    - accounts.c.debits_posted
                    + func.coalesce(_sibling_balance, 0)
                    <= MEMBER_BALANCE_MAX - _amount,
                ),
            ),
        ),
    )
    .values(
        debits_posted=accounts.c.debits_posted + case((accounts.c.id == _debit, _amount), else_=0),
        credits_posted=accounts.c.credits_posted
        + case((accounts.c.id == _credit, _amount), else_=0),
    )
    .returning(accounts.c.id, _outstanding_debt, _later_exists)
)

# PostgreSQL locks rows in the order its plan visits them, which is no fixed order for a
# two-row UPDATE: two identical postings could deadlock. So the rows are first locked in
# the global lock order (ledger/locks.py: the ids come in that order, and the row lock is
# applied after ORDER BY), then updated, in one round trip. FOR NO KEY UPDATE is the lock
# the UPDATE takes anyway; unlike FOR UPDATE it does not conflict with the key-share locks
# that inserting a transfer takes on the accounts it references. The debt account, when named,
# is locked too, and its outstanding balance is read from the locked (latest) row.
_LOCKED = """
    SELECT a.id, a.debits_posted - a.credits_posted AS owed, a.credits_posted - a.debits_posted
    FROM unnest(CAST(:ids AS VARCHAR[])) WITH ORDINALITY AS o(id, n)
    JOIN ledger_accounts AS a ON a.id = o.id
    ORDER BY o.n
    FOR NO KEY UPDATE OF a
"""
_PG_LOCK = text(_LOCKED)
_PG_APPLY = text(  # a constant: _LOCKED is this module's own text, not input
    f"""
    WITH locked AS MATERIALIZED ({_LOCKED})
    UPDATE ledger_accounts AS t
    SET debits_posted = t.debits_posted
            + CASE WHEN t.id = :debit THEN CAST(:amount AS BIGINT) ELSE 0 END,
        credits_posted = t.credits_posted
            + CASE WHEN t.id = :credit THEN CAST(:amount AS BIGINT) ELSE 0 END
    FROM locked
    WHERE t.id = locked.id
      AND t.id IN (:debit, :credit)
      AND (
        (t.id = :debit AND (NOT t.debits_must_not_exceed_credits
                            OR t.credits_posted - t.debits_posted >= CAST(:amount AS BIGINT)))
        OR (t.id = :credit AND (NOT t.credits_must_not_exceed_debits
                                OR t.debits_posted - t.credits_posted >= CAST(:amount AS BIGINT))
                           AND (NOT :capped
                                OR t.credits_posted - t.debits_posted
                                   + COALESCE((SELECT s.credits_posted - s.debits_posted
                                               FROM ledger_accounts AS s
                                               WHERE s.id = :sibling), 0)
                                   <= CAST(:ceiling AS BIGINT) - CAST(:amount AS BIGINT)))
      )
    RETURNING t.id, (SELECT owed FROM locked WHERE locked.id = :debt),
              (SELECT count(*) FROM ledger_accounts WHERE id = :later)
    """  # noqa: S608
)

_INSERT_TRANSFER = insert(transfers).returning(transfers.c.id)
_original = transfers.alias("original")
# A transfer naming its original copies that original's time (what settlement prices at).
_INSERT_LINKED_TRANSFER = (
    insert(transfers)
    .values(
        original_at=select(_original.c.created_at)
        .where(_original.c.id == bindparam("original_id"))
        .scalar_subquery()
    )
    .returning(transfers.c.id)
)


@dataclass(frozen=True, slots=True)
class AppliedBalances:
    """What the account update saw: the debt outstanding on ``debt`` (0 when none was named)."""

    outstanding_debt: int


def apply_balances(
    session: Session, debit: str, credit: str, amount: int, *, debt_account: str = ""
) -> AppliedBalances:
    """Move ``amount`` between two account balances, or raise without a partial effect.

    ``debt_account`` names a member's clawback-debt account whose outstanding
    balance is read in the same round trip (CR-12); it is locked with the other two.

    A leg that its account's flags can never refuse, on a shared account (a credit to
    ``partner:P:redeemed``, a charity or ``alliance:expired``; a debit from
    ``partner:P:issued``), is applied just before the transaction commits: every
    redemption at a partner updates that partner's row, and locking it at commit only
    keeps the hot row locked for one round trip instead of the whole operation. The
    order of locks stays global (ledger/locks.py): those accounts rank after every
    member account, and they are taken in order too.
    """
    legs = [(debit, "debit"), (credit, "credit")]
    later = [(address, side) for address, side in legs if never_refuses(address, side)]
    now = [address for address, side in legs if (address, side) not in later]
    for address, side in later:
        _defer(
            session, address, amount if side == "debit" else 0, amount if side == "credit" else 0
        )
    if not now:
        _require_accounts(session, [address for address, _ in later])
        return AppliedBalances(outstanding_debt=0)
    ordered = in_lock_order([*now, debt_account] if debt_account else now)
    held = set(held_locks(session))
    note_locks(session, ordered)
    params = {
        "debit": debit if debit in now else "",
        "credit": credit if credit in now else "",
        "amount": amount,
        "debt": debt_account,
        "later": later[0][0] if later else "",
        **_ceiling_params(debit, credit if credit in now else ""),
    }
    if _postgresql(session):
        # Not when this transaction already holds the member's lock (ledger.lock_member,
        # taken by the AML screening): the locked update that follows is exact.
        if debit in now and _spendable(debit) and debit not in held:
            _refuse_visibly_short(session, debit, amount)
        rows = session.execute(
            _PG_APPLY, {**params, "ids": ordered, "ceiling": MEMBER_BALANCE_MAX}
        ).all()
    else:
        rows = session.execute(_APPLY, params).all()
    if len(rows) == len(now):
        if later and not rows[0][2]:
            raise AccountNotFound(later[0][0])
        return AppliedBalances(outstanding_debt=int(rows[0][1] or 0))
    updated = {row[0] for row in rows}
    refused = next(address for address in now if address not in updated)
    raise _refusal(session, refused, debit, amount)


def _spendable(address: str) -> bool:
    owner = member_owner(address)
    return owner is not None and address == member(owner)


_COMMITTED_BALANCE = select(accounts.c.credits_posted - accounts.c.debits_posted).where(
    accounts.c.id == bindparam("account")
)


def _refuse_visibly_short(session: Session, debit: str, amount: int) -> None:
    """PostgreSQL: refuse a spend at once, without queueing for the member's row lock, when
    the member's latest committed balance is already short of ``amount``.

    Exact, not a guess: a READ COMMITTED read sees every committed spend (and this
    transaction's own moves), and only a commit moves the balance. A spend refused here
    is one the locking update, ordered at this moment, would refuse too; a credit still
    in flight elsewhere is simply ordered after it, as it could be had this spend waited.
    When a burst of spends drains a member, the rest are refused while the last ones
    still commit, instead of each taking the lock in turn only to be refused under it."""
    found = session.execute(_COMMITTED_BALANCE, {"account": debit}).scalar_one_or_none()
    if found is not None:
        _refuse_short(debit, amount, int(found))


def _refuse_short(debit: str, amount: int, committed: int) -> None:
    """The same refusal from a committed balance the caller read before any move of its
    transaction (on SQLite, under the writer lock, it is the balance the update sees)."""
    if committed < amount:
        raise InsufficientPoints(debit, amount, max(committed, 0))


def _ceiling_params(debit: str, credit: str) -> dict[str, object]:
    """Whether the credit brings points into a member from outside, and the member's
    other balance account that counts with it towards MEMBER_BALANCE_MAX."""
    owner = member_owner(credit) if credit else None
    if owner is None:
        return {"capped": False, "sibling": ""}
    spendable, held = member(owner), member_held(owner)
    if credit not in (spendable, held) or debit in (spendable, held):
        return {"capped": False, "sibling": ""}
    return {"capped": True, "sibling": held if credit == spendable else spendable}


def _require_accounts(session: Session, addresses: list[str]) -> None:
    found = set(
        session.execute(select(accounts.c.id).where(accounts.c.id.in_(addresses))).scalars()
    )
    for address in addresses:
        if address not in found:
            raise AccountNotFound(address)


_DEFERRED = "ledger.deferred_legs"
_ADD_POSTED = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(
        debits_posted=accounts.c.debits_posted + bindparam("debits", type_=BigInteger),
        credits_posted=accounts.c.credits_posted + bindparam("credits", type_=BigInteger),
    )
    .returning(accounts.c.id)
)


def _defer(session: Session, address: str, debits: int, credits: int) -> None:
    pending: dict[str, list[int]] = session.info.setdefault(_DEFERRED, {})
    posted = pending.setdefault(address, [0, 0])
    posted[0] += debits
    posted[1] += credits


@event.listens_for(Session, "before_commit")
def _apply_deferred(session: Session) -> None:
    """The deferred legs, in the global lock order, as the transaction commits."""
    pending: dict[str, list[int]] | None = session.info.pop(_DEFERRED, None)
    if not pending:
        return
    ordered = in_lock_order(pending)
    note_locks(session, ordered)
    for address in ordered:
        debits, credits = pending[address]
        found = session.execute(
            _ADD_POSTED, {"account": address, "debits": debits, "credits": credits}
        ).first()
        if found is None:
            raise AccountNotFound(address)


def _refusal(session: Session, refused: str, debit: str, amount: int) -> Exception:
    """Name the leg the update refused. The balance is re-read only for the message."""
    row = session.execute(
        select(accounts.c.kind, accounts.c.credits_posted - accounts.c.debits_posted).where(
            accounts.c.id == refused
        )
    ).first()
    if row is None:
        return AccountNotFound(refused)
    if row.kind in (AccountKind.MEMBER, AccountKind.MEMBER_HELD):
        if refused == debit:
            return InsufficientPoints(refused, amount, max(int(row[1]), 0))
        return BalanceCeilingExceeded(refused, amount, MEMBER_BALANCE_MAX)
    return LimitExceeded(refused, amount)


def insert_transfer(
    session: Session,
    *,
    operation_id: int,
    debit: str,
    credit: str,
    amount: int,
    code: str,
    now: datetime,
    partner_id: int | None = None,
    member_id: int | None = None,
    order_ref: str | None = None,
    hold_id: int | None = None,
    original_transfer_id: int | None = None,
) -> int:
    metrics.on_commit(session, metrics.LEDGER_TRANSFERS, code)
    linked = original_transfer_id is not None
    return int(
        session.execute(
            _INSERT_LINKED_TRANSFER if linked else _INSERT_TRANSFER,
            {
                "operation_id": operation_id,
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": amount,
                "code": code,
                "partner_id": partner_id,
                "member_id": member_id,
                "order_ref": order_ref,
                "hold_id": hold_id,
                "original_transfer_id": original_transfer_id,
                "created_at": now,
                **({"original_id": original_transfer_id} if linked else {}),
            },
        ).scalar_one()
    )


def post_transfer(
    session: Session,
    *,
    operation_id: int,
    debit: str,
    credit: str,
    amount: int,
    code: str,
    now: datetime,
    partner_id: int | None = None,
    member_id: int | None = None,
    order_ref: str | None = None,
    hold_id: int | None = None,
    debt_account: str = "",
    original_transfer_id: int | None = None,
) -> tuple[int, AppliedBalances]:
    """Apply both balances and record the transfer; returns (transfer id, what was applied).
    A posting between two members' accounts is refused before anything is written (CR-06)."""
    giver, receiver = member_owner(debit), member_owner(credit)
    if giver is not None and receiver is not None and giver != receiver:
        raise MemberToMemberTransfer()
    applied = apply_balances(session, debit, credit, amount, debt_account=debt_account)
    transfer_id = insert_transfer(
        session,
        operation_id=operation_id,
        debit=debit,
        credit=credit,
        amount=amount,
        code=code,
        now=now,
        partner_id=partner_id,
        member_id=member_id,
        order_ref=order_ref,
        hold_id=hold_id,
        original_transfer_id=original_transfer_id,
    )
    return transfer_id, applied


@dataclass(frozen=True, slots=True)
class LotBalance:
    id: int
    remaining: int
    expires_at: datetime


_SPENDABLE_LOTS = (
    select(
        lots.c.id,
        lots.c.remaining,
        lots.c.expires_at,
        _outstanding_debt.label("outstanding_debt"),
    )
    .where(lots.c.member_id == bindparam("member_id"), lots.c.remaining > 0)
    .order_by(lots.c.expires_at, lots.c.earned_at, lots.c.id)
)


@dataclass(frozen=True, slots=True)
class MemberPoints:
    lots: list[LotBalance]
    outstanding_debt: int


def member_points(session: Session, member_id: int, debt_account: str) -> MemberPoints:
    """A member's lots that still hold points, first-to-expire first (CR-11), and the
    member's clawback debt, read in one statement issued after the member's row is locked."""
    rows = session.execute(_SPENDABLE_LOTS, {"member_id": member_id, "debt": debt_account}).all()
    return MemberPoints(
        lots=[LotBalance(row.id, row.remaining, row.expires_at) for row in rows],
        outstanding_debt=int(rows[0].outstanding_debt or 0) if rows else 0,
    )


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_accounts(session: Session, *addresses: str) -> dict[str, int]:
    """Lock account rows for this transaction in the global lock order, in one statement
    (PostgreSQL; SQLite's writer lock already serialises), and return each one's
    credits - debits. Raises AccountNotFound for one never opened."""
    ordered = in_lock_order(addresses)
    note_locks(session, ordered)
    if _postgresql(session):
        rows = session.execute(_PG_LOCK, {"ids": ordered}).all()
    else:
        rows = session.execute(
            select(
                accounts.c.id,
                accounts.c.debits_posted - accounts.c.credits_posted,
                accounts.c.credits_posted - accounts.c.debits_posted,
            ).where(accounts.c.id.in_(ordered))
        ).all()
    found = {row[0]: int(row[2]) for row in rows}
    for address in ordered:
        if address not in found:
            raise AccountNotFound(address)
    return found


def lock_member(
    session: Session, member_id: int, *, spending: int = 0, balance_seen: int | None = None
) -> None:
    """Serialise this member's earning and spending for the rest of the transaction: lock
    ``member:M`` (the member's one serialising row) before anything reads the member's
    day, so the AML screening that follows (compliance/aml.py) sees every earning and
    spend committed before it (each READ COMMITTED statement after the lock reads afresh)
    and the posting it allows is the next one. An earning locks ``member:M:debt`` with it,
    as its posting will; a spend of ``spending`` points is refused InsufficientPoints here,
    on both stores, when the balance cannot cover it (on PostgreSQL at once, before
    queueing for the lock, when already visibly short; from ``balance_seen`` when the
    caller read the member's committed balance before any move of its transaction)."""
    spendable = member(member_id)
    if spending and balance_seen is not None:
        # Read by the caller with its own checks, before any move of this transaction
        # (members.registration.consented_spender): no round trip of its own.
        _refuse_short(spendable, spending, balance_seen)
    elif spending and _postgresql(session):
        _refuse_visibly_short(session, spendable, spending)
    addresses = (spendable,) if spending else (spendable, member_debt(member_id))
    balance = lock_accounts(session, *addresses)[spendable]
    if spending and balance < spending:
        raise InsufficientPoints(spendable, spending, max(balance, 0))


def lock_all_accounts(session: Session) -> None:
    """For bulk work that runs many operations in one transaction (the demo loader): the
    whole accounts table, so no other writer can hold one of its rows meanwhile and the
    operations may post in any order. PostgreSQL's EXCLUSIVE mode still lets readers in."""
    if _postgresql(session):
        session.execute(text("LOCK TABLE ledger_accounts IN EXCLUSIVE MODE"))
    note_all_locked(session)


def lock_account(session: Session, address: str) -> int:
    """Lock one account row (see :func:`lock_accounts`) and return its credits - debits."""
    return lock_accounts(session, address)[address]


def lapsed_lot_members(session: Session, now: datetime, limit: int) -> list[int]:
    return list(
        session.execute(
            select(lots.c.member_id)
            .where(lots.c.expires_at <= now, lots.c.remaining > 0)
            .group_by(lots.c.member_id)
            .order_by(lots.c.member_id)
            .limit(limit)
        ).scalars()
    )


_INSERT_LOT = insert(lots).returning(lots.c.id)


def insert_lot(
    session: Session,
    *,
    member_id: int,
    issuer_partner_id: int,
    earn_transfer_id: int,
    points: int,
    green: bool,
    earned_at: datetime,
    expires_at: datetime,
    restored_from_lot_id: int | None = None,
) -> int:
    return int(
        session.execute(
            _INSERT_LOT,
            {
                "member_id": member_id,
                "issuer_partner_id": issuer_partner_id,
                "earn_transfer_id": earn_transfer_id,
                "points": points,
                "remaining": points,
                "reversed_points": 0,
                "green": green,
                "earned_at": earned_at,
                "expires_at": expires_at,
                "restored_from_lot_id": restored_from_lot_id,
            },
        ).scalar_one()
    )


_TAKE_FROM_LOT = (
    update(lots)
    .where(lots.c.id == bindparam("lot_id"))
    .values(remaining=lots.c.remaining - bindparam("taken", type_=BigInteger))
)
_INSERT_ALLOCATION = insert(allocations)


def record_allocations(
    session: Session, transfer_id: int, taken: Sequence[tuple[int, int]]
) -> None:
    """Take ``points`` from each ``(lot_id, points)`` (negative points give them back)."""
    if not taken:
        return
    session.execute(_TAKE_FROM_LOT, [{"lot_id": lot, "taken": pts} for lot, pts in taken])
    session.execute(
        _INSERT_ALLOCATION,
        [{"transfer_id": transfer_id, "lot_id": lot, "points": pts} for lot, pts in taken],
    )


def lots_restored_from(session: Session, lot_id: int) -> set[int]:
    """The lots restored from ``lot_id``, and from those, and so on."""
    found: set[int] = set()
    frontier = [lot_id]
    while frontier:
        children = set(
            session.execute(
                select(lots.c.id).where(lots.c.restored_from_lot_id.in_(frontier))
            ).scalars()
        )
        frontier = sorted(children - found)
        found |= children
    return found


def move_out_of_lot(session: Session, lot_id: int, points: int) -> None:
    """The points a refund gave back to ``lot_id`` move on to the lot restored from it (a
    projection: ``ledger.verify`` counts a lot's restored lots with its allocations)."""
    session.execute(_TAKE_FROM_LOT, {"lot_id": lot_id, "taken": points})


@dataclass(frozen=True, slots=True)
class Taken:
    """The points a transfer took from one lot, and that lot."""

    lot_id: int
    points: int
    expires_at: datetime
    issuer_partner_id: int
    green: bool
    earned_at: datetime


def allocations_of(session: Session, transfer_id: int) -> list[Taken]:
    """Per lot, in lot order: the points ``transfer_id`` took from it, and the lot."""
    rows = session.execute(
        select(
            allocations.c.lot_id,
            func.sum(allocations.c.points),
            lots.c.expires_at,
            lots.c.issuer_partner_id,
            lots.c.green,
            lots.c.earned_at,
        )
        .join(lots, lots.c.id == allocations.c.lot_id)
        .where(allocations.c.transfer_id == transfer_id)
        .group_by(
            allocations.c.lot_id,
            lots.c.expires_at,
            lots.c.issuer_partner_id,
            lots.c.green,
            lots.c.earned_at,
        )
        .order_by(allocations.c.lot_id)
    )
    return [
        Taken(int(row[0]), int(row[1]), row[2], int(row[3]), bool(row[4]), row[5]) for row in rows
    ]


@dataclass(frozen=True, slots=True)
class LotState:
    id: int
    member_id: int
    issuer_partner_id: int
    points: int
    remaining: int
    reversed_points: int
    expires_at: datetime


def lot_state(session: Session, lot_id: int) -> LotState | None:
    row = session.execute(
        select(
            lots.c.id,
            lots.c.member_id,
            lots.c.issuer_partner_id,
            lots.c.points,
            lots.c.remaining,
            lots.c.reversed_points,
            lots.c.expires_at,
        ).where(lots.c.id == lot_id)
    ).first()
    return None if row is None else LotState(*row)


def add_reversed_points(session: Session, lot_id: int, points: int) -> None:
    session.execute(
        update(lots)
        .where(lots.c.id == lot_id)
        .values(reversed_points=lots.c.reversed_points + points)
    )


_INSERT_HOLD = insert(holds).returning(holds.c.id)


def insert_hold(
    session: Session,
    *,
    operation_id: int,
    member_id: int,
    partner_id: int,
    amount: int,
    status: str,
    reference: str | None,
    deadline: datetime | None,
    now: datetime,
) -> int:
    return int(
        session.execute(
            _INSERT_HOLD,
            {
                "operation_id": operation_id,
                "member_id": member_id,
                "partner_id": partner_id,
                "amount": amount,
                "status": status,
                "reference": reference,
                "deadline": deadline,
                "created_at": now,
                "resolved_at": None if deadline is not None else now,
            },
        ).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class HoldState:
    id: int
    member_id: int
    partner_id: int
    amount: int
    status: str
    deadline: datetime | None


def _hold_columns() -> tuple[Any, ...]:
    return (
        holds.c.id,
        holds.c.member_id,
        holds.c.partner_id,
        holds.c.amount,
        holds.c.status,
        holds.c.deadline,
    )


def hold_state(session: Session, hold_id: int) -> HoldState | None:
    row = session.execute(select(*_hold_columns()).where(holds.c.id == hold_id)).first()
    return None if row is None else HoldState(*row)


def transition_hold(
    session: Session,
    hold_id: int,
    *,
    from_status: str,
    to_status: str,
    now: datetime,
    partner_id: int | None,
    live_at: datetime | None = None,
) -> HoldState | None:
    """Move a hold between statuses if it is still in ``from_status``; None when it was not.

    With ``live_at`` the hold must also not have passed its deadline.
    """
    conditions = [holds.c.id == hold_id, holds.c.status == from_status]
    if partner_id is not None:
        conditions.append(holds.c.partner_id == partner_id)
    if live_at is not None:
        conditions.append(or_(holds.c.deadline.is_(None), holds.c.deadline > live_at))
    row = session.execute(
        update(holds)
        .where(*conditions)
        .values(status=to_status, resolved_at=now)
        .returning(*_hold_columns())
    ).first()
    return None if row is None else HoldState(*row)


def lock_lapsed_holds(session: Session, now: datetime, limit: int) -> list[HoldState]:
    """PENDING holds past their deadline (at most ``limit``), locked in id order before any
    account (the global lock order, ledger/locks.py); holds another transaction has
    locked are left for the next sweep."""
    return [
        HoldState(*row)
        for row in session.execute(
            select(*_hold_columns())
            .where(holds.c.status == "PENDING", holds.c.deadline <= now)
            .order_by(holds.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        )
    ]


def consuming_transfer(session: Session, hold_id: int) -> tuple[int, datetime]:
    """The transfer that took a redemption's points out of the member's lots, and when."""
    row = session.execute(
        select(transfers.c.id, transfers.c.created_at).where(
            transfers.c.hold_id == hold_id, transfers.c.code.in_(["hold", "redeem"])
        )
    ).one()
    return int(row.id), row.created_at


def settled_redemption(session: Session, hold_id: int) -> int:
    """The transfer that paid a redemption's points to its partner (a redeem or a capture):
    the price a refund of it is settled at."""
    return int(
        session.execute(
            select(transfers.c.id).where(
                transfers.c.hold_id == hold_id, transfers.c.code.in_(["redeem", "capture"])
            )
        ).scalar_one()
    )


def original_issue(session: Session, lot_id: int) -> int:
    """The earn (or compensation) that first issued a lot's points: a lot a refund restored
    came from another lot, back to the first one."""
    while True:
        earn_transfer_id, restored_from = session.execute(
            select(lots.c.earn_transfer_id, lots.c.restored_from_lot_id).where(lots.c.id == lot_id)
        ).one()
        if restored_from is None:
            return int(earn_transfer_id)
        lot_id = int(restored_from)


@dataclass(frozen=True, slots=True)
class Debt:
    """What is still owed of one recorded clawback debt, to its issuer, for its earn."""

    partner_id: int | None
    original_transfer_id: int | None
    owed: int


def outstanding_debts(session: Session, member_id: int) -> list[Debt]:
    """The member's clawback debts still owed, oldest first: every repayment so far paid
    the oldest debts first (CR-12). Read after the debt account is locked."""
    debt = member_debt(member_id)
    repaid = int(
        session.execute(
            select(func.coalesce(func.sum(transfers.c.amount), 0)).where(
                transfers.c.credit_account_id == debt
            )
        ).scalar_one()
    )
    owed = []
    for partner_id, original, amount in session.execute(
        select(transfers.c.partner_id, transfers.c.original_transfer_id, transfers.c.amount)
        .where(transfers.c.debit_account_id == debt)
        .order_by(transfers.c.id)
    ):
        paid = min(repaid, int(amount))
        repaid -= paid
        if int(amount) > paid:
            owed.append(Debt(partner_id, original, int(amount) - paid))
    return owed
