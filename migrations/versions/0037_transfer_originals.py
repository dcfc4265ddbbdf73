"""Every transfer that gives back or takes back an earlier one names it, so settlement
prices it at the price the original was settled at (issue 12, F2), and credits a clawback
debt to its issuer only as it is repaid (F1).

Backfills the rows written before: a refund names the redeem or capture of its hold, a void
the transfer that held the points, and a clawback that took points back the earn of the
reversed lot's first lot (found through the reversal's stored result). A clawback debt
recorded before this migration keeps no link: its issuer was credited when it was recorded
(the old rule, in statements perhaps already closed), so it and its repayments are settled
as they were.

Revision ID: 0037
Revises: 0033
Create Date: 2026-11-30 14:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FK = "fk_ledger_transfers_original_transfer_id_ledger_transfers"
INDEX = "ix_ledger_transfers_linked_created_at"
LINKED = sa.text("original_transfer_id IS NOT NULL")

transfers = sa.table(
    "ledger_transfers",
    sa.column("id", BIG_ID),
    sa.column("operation_id", BIG_ID),
    sa.column("code", sa.String),
    sa.column("debit_account_id", sa.String),
    sa.column("credit_account_id", sa.String),
    sa.column("hold_id", BIG_ID),
    sa.column("original_transfer_id", BIG_ID),
)
operations = sa.table("ledger_operations", sa.column("id", BIG_ID), sa.column("result", sa.Text))
lots = sa.table(
    "ledger_lots",
    sa.column("id", BIG_ID),
    sa.column("earn_transfer_id", BIG_ID),
    sa.column("restored_from_lot_id", BIG_ID),
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # In place, no table rebuild (the lots' and allocations' keys point at transfers).
        op.execute(
            "ALTER TABLE ledger_transfers ADD COLUMN original_transfer_id INTEGER "
            f"CONSTRAINT {FK} REFERENCES ledger_transfers (id)"
        )
    else:
        op.add_column("ledger_transfers", sa.Column("original_transfer_id", BIG_ID, nullable=True))
        op.create_foreign_key(
            FK, "ledger_transfers", "ledger_transfers", ["original_transfer_id"], ["id"]
        )
    _backfill(bind)
    # Reconciliation prices a refund or clawback through windows of every version of the
    # partner's terms, kept apart from the windows the partner settles in.
    op.add_column(
        "settlement_price_windows",
        sa.Column("for_originals", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        op.f("ix_settlement_price_windows_period_id_partner_id"),
        "settlement_price_windows",
        ["period_id", "partner_id"],
    )
    op.create_index(
        INDEX,
        "ledger_transfers",
        ["created_at"],
        sqlite_where=LINKED,
        postgresql_where=LINKED,
    )


def _backfill(bind: sa.Connection) -> None:
    """The ledger's history is append-only (0002): its guard is lifted only while the new
    column of the rows already written is filled, and only that column is written."""
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_append_only")
    else:
        op.execute("DROP TRIGGER ledger_transfers_no_update")
    _link(bind)
    if postgresql:
        op.execute("ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_append_only")
    else:
        op.execute(
            "CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers "
            "BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END"
        )


def _link(bind: sa.Connection) -> None:
    original = transfers.alias("original")
    for code, codes in (("refund", ("redeem", "capture")), ("void", ("hold", "redeem"))):
        bind.execute(
            transfers.update()
            .where(transfers.c.code == code, transfers.c.hold_id.is_not(None))
            .values(
                original_transfer_id=sa.select(original.c.id)
                .where(original.c.hold_id == transfers.c.hold_id, original.c.code.in_(codes))
                .order_by(original.c.id)
                .limit(1)
                .scalar_subquery()
            )
        )
    # Clawbacks that took points back (not a debt recorded, not a repayment): the lot their
    # reversal names in its stored result.
    taken_back = bind.execute(
        sa.select(transfers.c.id, operations.c.result)
        .join(operations, operations.c.id == transfers.c.operation_id)
        .where(
            transfers.c.code == "clawback",
            transfers.c.credit_account_id.like("partner:%:issued"),
            transfers.c.debit_account_id.not_like("%:debt"),
        )
    ).all()
    for transfer_id, result in taken_back:
        lot_id = json.loads(result).get("lot_id") if result else None
        first = _first_issue(bind, lot_id) if lot_id is not None else None
        if first is not None:
            bind.execute(
                transfers.update()
                .where(transfers.c.id == transfer_id)
                .values(original_transfer_id=first)
            )


def _first_issue(bind: sa.Connection, lot_id: int) -> int | None:
    for _ in range(10_000):  # a chain of restored lots; never a cycle, but bounded
        row = bind.execute(
            sa.select(lots.c.earn_transfer_id, lots.c.restored_from_lot_id).where(
                lots.c.id == lot_id
            )
        ).first()
        if row is None:
            return None
        if row.restored_from_lot_id is None:
            return int(row.earn_transfer_id)
        lot_id = int(row.restored_from_lot_id)
    return None


def downgrade() -> None:
    op.drop_index(
        op.f("ix_settlement_price_windows_period_id_partner_id"),
        table_name="settlement_price_windows",
    )
    with op.batch_alter_table("settlement_price_windows") as batch_op:
        batch_op.drop_column("for_originals")
    op.drop_index(INDEX, table_name="ledger_transfers")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(FK, "ledger_transfers", type_="foreignkey")
    op.execute("ALTER TABLE ledger_transfers DROP COLUMN original_transfer_id")
