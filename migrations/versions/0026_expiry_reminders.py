"""Expiry reminders to members who opt in: the opt-in with the member's phone, sealed,
and the outbox of messages to members' phones (CR-11, 到期提醒).

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_expiry_reminders",
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("sealed_phone", sa.String(length=200), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_expiry_reminders_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_expiry_reminders")),
    )
    op.create_table(
        "member_messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("first_expiry", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'SENT', 'SKIPPED', 'FAILED')",
            name=op.f("ck_member_messages_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_messages_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_messages")),
        sa.UniqueConstraint("event_id", name=op.f("uq_member_messages_event_id")),
    )
    op.create_index(op.f("ix_member_messages_member_id"), "member_messages", ["member_id"])
    op.create_index(
        op.f("ix_member_messages_next_attempt_at"), "member_messages", ["next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_member_messages_next_attempt_at"), table_name="member_messages")
    op.drop_index(op.f("ix_member_messages_member_id"), table_name="member_messages")
    op.drop_table("member_messages")
    op.drop_table("member_expiry_reminders")
