"""Settlement: periods, frozen statements, partner reports, reconciliation; the alliance's
adjustments account. Frozen statements and closed periods are immutable in the database.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 08:38:10.497195
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "kind IN ('member', 'member_held', 'member_debt', 'partner_issued', "
    "'partner_redeemed', 'alliance_expired', 'charity')"
)
KINDS_NOW = (
    "kind IN ('member', 'member_held', 'member_debt', 'partner_issued', "
    "'partner_redeemed', 'alliance_expired', 'alliance_adjustments', 'charity')"
)


def _freeze() -> None:
    """Frozen statements can never change; a closed period can never change or reopen."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION settlement_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_TABLE_NAME = 'settlement_periods' AND TG_OP = 'UPDATE'
                   AND OLD.status <> 'CLOSED' THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '% of a closed period is immutable', TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER settlement_statements_frozen BEFORE UPDATE OR DELETE "
            "ON settlement_statements FOR EACH ROW EXECUTE FUNCTION settlement_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER settlement_periods_closed BEFORE UPDATE OR DELETE "
            "ON settlement_periods FOR EACH ROW EXECUTE FUNCTION settlement_refuse_change()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER settlement_statements_no_{event.lower()} BEFORE {event} "
            "ON settlement_statements "
            "BEGIN SELECT RAISE(ABORT, 'settlement_statements of a closed period is immutable'); END"
        )
    op.execute(
        "CREATE TRIGGER settlement_periods_closed BEFORE UPDATE ON settlement_periods "
        "WHEN OLD.status = 'CLOSED' "
        "BEGIN SELECT RAISE(ABORT, 'settlement_periods of a closed period is immutable'); END"
    )
    op.execute(
        "CREATE TRIGGER settlement_periods_no_delete BEFORE DELETE ON settlement_periods "
        "BEGIN SELECT RAISE(ABORT, 'settlement_periods of a closed period is immutable'); END"
    )


def _thaw() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER settlement_statements_frozen ON settlement_statements")
        op.execute("DROP TRIGGER settlement_periods_closed ON settlement_periods")
        op.execute("DROP FUNCTION settlement_refuse_change()")
        return
    for name in (
        "settlement_statements_no_update",
        "settlement_statements_no_delete",
        "settlement_periods_closed",
        "settlement_periods_no_delete",
    ):
        op.execute(f"DROP TRIGGER {name}")


def upgrade() -> None:
    op.create_table(
        "settlement_periods",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("cycle", sa.String(length=8), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operator_revenue_fen", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "cycle IN ('DAILY', 'WEEKLY', 'MONTHLY')",
            name=op.f("ck_settlement_periods_cycle_known"),
        ),
        sa.CheckConstraint(
            "status IN ('OPEN', 'RECONCILING', 'CLOSED')",
            name=op.f("ck_settlement_periods_status_known"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_settlement_periods_window_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_periods")),
        sa.UniqueConstraint(
            "cycle", "starts_at", name=op.f("uq_settlement_periods_cycle_starts_at")
        ),
    )
    op.create_table(
        "settlement_price_windows",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "period_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issue_micro", sa.BigInteger(), nullable=False),
        sa.Column("reimbursement_micro", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_settlement_price_windows_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["settlement_periods.id"],
            name=op.f("fk_settlement_price_windows_period_id_settlement_periods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_price_windows")),
    )
    with op.batch_alter_table("settlement_price_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_price_windows_period_id"), ["period_id"], unique=False
        )

    op.create_table(
        "settlement_recon_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("period_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_key", sa.String(length=140), nullable=False),
        sa.Column("hub_points", sa.BigInteger(), nullable=True),
        sa.Column("hub_fen", sa.BigInteger(), nullable=True),
        sa.Column("partner_points", sa.BigInteger(), nullable=True),
        sa.Column("partner_fen", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "status IN ('MATCHED', 'MISSING_IN_HUB', 'MISSING_IN_PARTNER', 'AMOUNT_MISMATCH')",
            name=op.f("ck_settlement_recon_lines_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_recon_lines")),
        sa.UniqueConstraint(
            "period_id",
            "partner_id",
            "kind",
            "ref_key",
            name=op.f("uq_settlement_recon_lines_period_id_partner_id_kind_ref_key"),
        ),
    )
    with op.batch_alter_table("settlement_recon_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_recon_lines_period_id_partner_id_id"),
            ["period_id", "partner_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_settlement_recon_lines_period_id_status_id"),
            ["period_id", "status", "id"],
            unique=False,
        )

    op.create_table(
        "settlement_report_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "period_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("ref_key", sa.String(length=140), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('AWARD', 'REVERSAL', 'REDEMPTION', 'REFUND', 'COMPENSATION')",
            name=op.f("ck_settlement_report_lines_kind_known"),
        ),
        sa.CheckConstraint(
            "points >= 0 AND amount_fen >= 0",
            name=op.f("ck_settlement_report_lines_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_settlement_report_lines_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["settlement_periods.id"],
            name=op.f("fk_settlement_report_lines_period_id_settlement_periods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_report_lines")),
        sa.UniqueConstraint(
            "period_id",
            "partner_id",
            "kind",
            "ref_key",
            name=op.f("uq_settlement_report_lines_period_id_partner_id_kind_ref_key"),
        ),
    )
    op.create_table(
        "settlement_statements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "period_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("issued_points", sa.BigInteger(), nullable=False),
        sa.Column("issue_fen", sa.BigInteger(), nullable=False),
        sa.Column("reversed_points", sa.BigInteger(), nullable=False),
        sa.Column("reversal_fen", sa.BigInteger(), nullable=False),
        sa.Column("compensation_points", sa.BigInteger(), nullable=False),
        sa.Column("compensation_fen", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_points", sa.BigInteger(), nullable=False),
        sa.Column("reimbursement_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_points", sa.BigInteger(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_settlement_statements_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["settlement_periods.id"],
            name=op.f("fk_settlement_statements_period_id_settlement_periods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statements")),
        sa.UniqueConstraint(
            "period_id", "partner_id", name=op.f("uq_settlement_statements_period_id_partner_id")
        ),
    )
    op.create_table(
        "settlement_resolutions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "period_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_key", sa.String(length=140), nullable=False),
        sa.Column("resolution", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "adjust_transfer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "resolution IN ('ACCEPT_HUB', 'ADJUST', 'DISPUTE')",
            name=op.f("ck_settlement_resolutions_resolution_known"),
        ),
        sa.ForeignKeyConstraint(
            ["adjust_transfer_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_settlement_resolutions_adjust_transfer_id_ledger_transfers"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_settlement_resolutions_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["settlement_periods.id"],
            name=op.f("fk_settlement_resolutions_period_id_settlement_periods"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_resolutions")),
        sa.UniqueConstraint(
            "period_id",
            "partner_id",
            "kind",
            "ref_key",
            name=op.f("uq_settlement_resolutions_period_id_partner_id_kind_ref_key"),
        ),
    )

    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_accounts_kind_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_ledger_accounts_kind_known"), KINDS_NOW)
    _freeze()


def downgrade() -> None:
    _thaw()
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_accounts_kind_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_ledger_accounts_kind_known"), KINDS_BEFORE)
    op.drop_table("settlement_resolutions")
    op.drop_table("settlement_statements")
    op.drop_table("settlement_report_lines")
    with op.batch_alter_table("settlement_recon_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_recon_lines_period_id_status_id"))
        batch_op.drop_index(batch_op.f("ix_settlement_recon_lines_period_id_partner_id_id"))

    op.drop_table("settlement_recon_lines")
    with op.batch_alter_table("settlement_price_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_price_windows_period_id"))

    op.drop_table("settlement_price_windows")
    op.drop_table("settlement_periods")
