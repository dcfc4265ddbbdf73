"""Members prove their phone and give consent themselves: registrations, one-time codes,
consent evidence; PENDING members; phone hashes erasable.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_registrations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("partner_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("external_ref", sa.String(length=128), nullable=False),
        sa.Column("identity_verified", sa.Boolean(), nullable=False),
        sa.Column("credit_level_consent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'CONFIRMED')", name=op.f("ck_member_registrations_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_registrations_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_member_registrations_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_registrations")),
    )
    op.create_index(
        op.f("ix_member_registrations_partner_id_id"),
        "member_registrations",
        ["partner_id", "id"],
    )
    op.create_table(
        "member_one_time_codes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('REGISTRATION', 'CONSENT', 'SIGN_IN')",
            name=op.f("ck_member_one_time_codes_purpose_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_one_time_codes")),
    )
    for columns in (
        ["purpose", "subject_id"],
        ["phone_hash", "created_at"],
        ["address_hash", "created_at"],
    ):
        op.create_index(
            op.f(f"ix_member_one_time_codes_{'_'.join(columns)}"), "member_one_time_codes", columns
        )
    op.create_table(
        "member_consent_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("partner_id", BIG_ID, nullable=False),
        sa.Column("request_id", BIG_ID, nullable=True),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("credit_level", sa.Boolean(), nullable=False),
        sa.Column("credit_level_only", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('GRANTED', 'DENIED', 'WITHDRAWN')",
            name=op.f("ck_member_consent_events_action_known"),
        ),
        sa.CheckConstraint(
            "channel IN ('APP', 'SMS_CODE', 'PARTNER')",
            name=op.f("ck_member_consent_events_channel_known"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_consent_events_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_member_consent_events_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["member_consent_requests.id"],
            name=op.f("fk_member_consent_events_request_id_member_consent_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_consent_events")),
    )
    op.create_index(
        op.f("ix_member_consent_events_member_id_id"), "member_consent_events", ["member_id", "id"]
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("phone_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.drop_constraint(op.f("ck_members_status_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_members_status_known"), "status IN ('PENDING', 'ACTIVE', 'CLOSED')"
        )
    with op.batch_alter_table("member_consent_requests", schema=None) as batch_op:
        batch_op.alter_column("phone_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("purpose", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=12), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_member_consent_requests_phone_hash"), ["phone_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("member_consent_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_consent_requests_phone_hash"))
        batch_op.drop_column("channel")
        batch_op.drop_column("purpose")
        batch_op.alter_column("phone_hash", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_members_status_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_members_status_known"), "status IN ('ACTIVE', 'CLOSED')"
        )
        batch_op.alter_column("phone_hash", existing_type=sa.String(length=64), nullable=False)
    op.drop_table("member_consent_events")
    op.drop_table("member_one_time_codes")
    op.drop_table("member_registrations")
