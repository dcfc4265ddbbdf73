"""One-time codes are counted per purpose (each partner's apart from signing in) and per
sender (a partner, or the app's sign-in page).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member_one_time_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("sender", sa.String(length=80), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_member_one_time_codes_phone_hash_budget_created_at"),
            ["phone_hash", "budget", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_member_one_time_codes_sender_created_at"),
            ["sender", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("member_one_time_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_one_time_codes_sender_created_at"))
        batch_op.drop_index(batch_op.f("ix_member_one_time_codes_phone_hash_budget_created_at"))
        batch_op.drop_column("sender")
        batch_op.drop_column("budget")
