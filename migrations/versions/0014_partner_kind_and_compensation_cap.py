"""Money paths (issue 12): a partner's kind (MERCHANT or CHARITY, CR-06) and the
operator's cap on the compensation points it may issue with a refund (CR-12).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 07:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN with inline named checks: both stores support it, and SQLite need not
    # rebuild a table every other table references.
    op.execute(
        "ALTER TABLE partners ADD COLUMN kind VARCHAR(12) DEFAULT 'MERCHANT' NOT NULL "
        "CONSTRAINT ck_partners_kind_known CHECK (kind IN ('MERCHANT', 'CHARITY'))"
    )
    op.execute(
        "ALTER TABLE partners ADD COLUMN compensation_cap_percent INTEGER DEFAULT 100 NOT NULL "
        "CONSTRAINT ck_partners_compensation_cap_bounded "
        "CHECK (compensation_cap_percent >= 0 AND compensation_cap_percent <= 1000)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE partners DROP COLUMN compensation_cap_percent")
    op.execute("ALTER TABLE partners DROP COLUMN kind")
