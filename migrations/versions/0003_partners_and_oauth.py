"""Partners, settlement terms, marketing budgets, OAuth clients and the authorization
server's keys, revoked tokens and used assertions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:28:11.560918
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_oauth_revoked_tokens")),
    )
    with op.batch_alter_table("oauth_revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_revoked_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "oauth_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_oauth_signing_keys")),
    )
    op.create_table(
        "oauth_used_assertions",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_oauth_used_assertions")),
    )
    with op.batch_alter_table("oauth_used_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_used_assertions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "partners",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_entity", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'SUSPENDED')", name=op.f("ck_partners_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("code", name=op.f("uq_partners_code")),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("auth_method", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'operator' AND partner_id IS NULL) OR (kind = 'partner' AND partner_id IS NOT NULL)",
            name=op.f("ck_oauth_clients_owner_matches_kind"),
        ),
        sa.CheckConstraint(
            "auth_method <> 'private_key_jwt' OR jwks IS NOT NULL",
            name=op.f("ck_oauth_clients_jwks_for_private_key_jwt"),
        ),
        sa.CheckConstraint(
            "auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt')",
            name=op.f("ck_oauth_clients_auth_method_known"),
        ),
        sa.CheckConstraint(
            "kind = 'operator' OR (' ' || scopes || ' ') NOT LIKE '% operator:admin %'",
            name=op.f("ck_oauth_clients_operator_scope_only_for_operator"),
        ),
        sa.CheckConstraint(
            "kind IN ('partner', 'operator')", name=op.f("ck_oauth_clients_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'REVOKED')", name=op.f("ck_oauth_clients_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_oauth_clients_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oauth_clients")),
    )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_clients_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "partner_marketing_budgets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount_fen >= 0", name=op.f("ck_partner_marketing_budgets_amount_non_negative")
        ),
        sa.CheckConstraint(
            "period_end > period_start", name=op.f("ck_partner_marketing_budgets_period_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_marketing_budgets_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_marketing_budgets")),
    )
    with op.batch_alter_table("partner_marketing_budgets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_marketing_budgets_partner_id_period_start"),
            ["partner_id", "period_start"],
            unique=False,
        )

    op.create_table(
        "partner_settlement_terms",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("issue_price_per_point_fen", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("reimbursement_per_point_fen", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("operator_fee_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("cycle", sa.String(length=8), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cycle IN ('DAILY', 'WEEKLY', 'MONTHLY')",
            name=op.f("ck_partner_settlement_terms_cycle_known"),
        ),
        sa.CheckConstraint(
            "issue_price_per_point_fen >= 0 AND reimbursement_per_point_fen >= 0",
            name=op.f("ck_partner_settlement_terms_prices_non_negative"),
        ),
        sa.CheckConstraint(
            "operator_fee_rate >= 0 AND operator_fee_rate < 1",
            name=op.f("ck_partner_settlement_terms_fee_rate_bounded"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_settlement_terms_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_settlement_terms")),
        sa.UniqueConstraint(
            "partner_id",
            "effective_at",
            name=op.f("uq_partner_settlement_terms_partner_id_effective_at"),
        ),
    )
    op.create_table(
        "oauth_client_secrets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name=op.f("fk_oauth_client_secrets_client_id_oauth_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_client_secrets")),
    )
    with op.batch_alter_table("oauth_client_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_client_secrets_client_id"), ["client_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_client_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_client_secrets_client_id"))

    op.drop_table("oauth_client_secrets")
    op.drop_table("partner_settlement_terms")
    with op.batch_alter_table("partner_marketing_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_marketing_budgets_partner_id_period_start"))

    op.drop_table("partner_marketing_budgets")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_clients_partner_id"))

    op.drop_table("oauth_clients")
    op.drop_table("partners")
    with op.batch_alter_table("oauth_used_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_used_assertions_expires_at"))

    op.drop_table("oauth_used_assertions")
    op.drop_table("oauth_signing_keys")
    with op.batch_alter_table("oauth_revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_revoked_tokens_expires_at"))

    op.drop_table("oauth_revoked_tokens")
