"""A service's terms shown in the catalogue (CR-13): days a redemption stays valid.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 07:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("catalog_items", sa.Column("service_valid_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE catalog_items DROP COLUMN service_valid_days")
