"""The double-entry points ledger: accounts, operations, holds, transfers, lots, allocations.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 06:06:51.438626
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("debits_must_not_exceed_credits", sa.Boolean(), nullable=False),
        sa.Column("credits_must_not_exceed_debits", sa.Boolean(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('member', 'member_held', 'member_debt', 'partner_issued', 'partner_redeemed', 'alliance_expired', 'charity')",
            name=op.f("ck_ledger_accounts_kind_known"),
        ),
        sa.CheckConstraint(
            "NOT credits_must_not_exceed_debits OR credits_posted <= debits_posted",
            name=op.f("ck_ledger_accounts_credits_within_debits"),
        ),
        sa.CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted <= credits_posted",
            name=op.f("ck_ledger_accounts_debits_within_credits"),
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0",
            name=op.f("ck_ledger_accounts_posted_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "ledger_operations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_operations")),
        sa.UniqueConstraint(
            "client_id",
            "idempotency_key",
            name=op.f("uq_ledger_operations_client_id_idempotency_key"),
        ),
    )
    op.create_table(
        "ledger_holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "operation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'CAPTURED', 'VOIDED', 'REFUNDED')",
            name=op.f("ck_ledger_holds_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_holds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["ledger_operations.id"],
            name=op.f("fk_ledger_holds_operation_id_ledger_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_holds_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_holds_status_deadline"), ["status", "deadline"], unique=False
        )

    op.create_table(
        "ledger_transfers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "operation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("debit_account_id", sa.String(length=64), nullable=False),
        sa.Column("credit_account_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=True),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("order_ref", sa.String(length=128), nullable=True),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "code IN ('earn', 'compensate', 'hold', 'capture', 'void', 'redeem', 'refund', 'clawback', 'expire', 'donate', 'adjust')",
            name=op.f("ck_ledger_transfers_code_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfers_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id",
            name=op.f("ck_ledger_transfers_accounts_differ"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_ledger_transfers_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["ledger_operations.id"],
            name=op.f("fk_ledger_transfers_operation_id_ledger_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_credit_account_id_id"),
            ["credit_account_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_debit_account_id_id"),
            ["debit_account_id", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_ledger_transfers_hold_id"), ["hold_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_operation_id"), ["operation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_partner_id_order_ref"),
            ["partner_id", "order_ref"],
            unique=False,
        )

    op.create_table(
        "ledger_lots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("issuer_partner_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "earn_transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("reversed_points", sa.BigInteger(), nullable=False),
        sa.Column("green", sa.Boolean(), nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "expires_at > earned_at", name=op.f("ck_ledger_lots_expires_after_earned")
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_ledger_lots_points_positive")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= points",
            name=op.f("ck_ledger_lots_remaining_within_points"),
        ),
        sa.CheckConstraint(
            "reversed_points >= 0 AND reversed_points <= points",
            name=op.f("ck_ledger_lots_reversed_within_points"),
        ),
        sa.ForeignKeyConstraint(
            ["earn_transfer_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_ledger_lots_earn_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lots")),
        sa.UniqueConstraint("earn_transfer_id", name=op.f("uq_ledger_lots_earn_transfer_id")),
    )
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_lots_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_lots_member_id_expires_at_earned_at_id"),
            ["member_id", "expires_at", "earned_at", "id"],
            unique=False,
        )

    op.create_table(
        "ledger_allocations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("points <> 0", name=op.f("ck_ledger_allocations_points_nonzero")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_ledger_allocations_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_ledger_allocations_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_allocations")),
    )
    with op.batch_alter_table("ledger_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_allocations_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_allocations_transfer_id"), ["transfer_id"], unique=False
        )
    accounts = sa.table(
        "ledger_accounts",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("owner_id", sa.BigInteger),
        sa.column("debits_must_not_exceed_credits", sa.Boolean),
        sa.column("credits_must_not_exceed_debits", sa.Boolean),
        sa.column("debits_posted", sa.BigInteger),
        sa.column("credits_posted", sa.BigInteger),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    # Breakage sink shared by the whole alliance.
    op.bulk_insert(
        accounts,
        [
            {
                "id": "alliance:expired",
                "kind": "alliance_expired",
                "owner_id": None,
                "debits_must_not_exceed_credits": True,
                "credits_must_not_exceed_debits": False,
                "debits_posted": 0,
                "credits_posted": 0,
                "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("ledger_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_allocations_transfer_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_allocations_lot_id"))

    op.drop_table("ledger_allocations")
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_lots_member_id_expires_at_earned_at_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_lots_expires_at"))

    op.drop_table("ledger_lots")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_partner_id_order_ref"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_operation_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_hold_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_debit_account_id_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_credit_account_id_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_created_at"))

    op.drop_table("ledger_transfers")
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_holds_status_deadline"))
        batch_op.drop_index(batch_op.f("ix_ledger_holds_member_id"))

    op.drop_table("ledger_holds")
    op.drop_table("ledger_operations")
    op.drop_table("ledger_accounts")
