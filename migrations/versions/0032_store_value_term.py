"""One more term of the operator's vocabulary, after a third outside attack: "store value"
(``store-value`` cards were published where "stored value" is refused). Added only if the
operator does not already keep it; the downgrade removes it only while still as seeded.

Revision ID: 0032
Revises: 0030
Create Date: 2026-11-30 13:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED = {"CR-05": ("store value",)}
SEEDED_AT = datetime(2026, 11, 30, 13, 40, tzinfo=UTC)

vocabulary = sa.table(
    "compliance_vocabulary",
    sa.column("term", sa.String),
    sa.column("rule", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    kept = set(bind.execute(sa.select(vocabulary.c.term)).scalars())
    rows = [
        {"term": term, "rule": rule, "updated_at": SEEDED_AT}
        for rule, terms in ADDED.items()
        for term in terms
        if term not in kept
    ]
    if rows:
        op.bulk_insert(vocabulary, rows)


def downgrade() -> None:
    op.execute(
        vocabulary.delete().where(
            vocabulary.c.term.in_([t for terms in ADDED.values() for t in terms]),
            vocabulary.c.updated_at == SEEDED_AT,
        )
    )
