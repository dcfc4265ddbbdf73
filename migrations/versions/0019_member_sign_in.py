"""Members sign in to the alliance's app (app clients, sign-ins, refresh tokens) and
keep their privacy preferences.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_app_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_member_app_clients")),
    )
    op.create_table(
        "member_sign_ins",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=512), nullable=False),
        sa.Column("code_challenge", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=500), nullable=False),
        sa.Column("member_id", BIG_ID, nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exchanged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["member_app_clients.client_id"],
            name=op.f("fk_member_sign_ins_client_id_member_app_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_sign_ins_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_sign_ins")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_member_sign_ins_code_hash")),
        sa.UniqueConstraint("handle_hash", name=op.f("uq_member_sign_ins_handle_hash")),
    )
    op.create_index(op.f("ix_member_sign_ins_member_id"), "member_sign_ins", ["member_id"])
    op.create_table(
        "member_refresh_tokens",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["member_app_clients.client_id"],
            name=op.f("fk_member_refresh_tokens_client_id_member_app_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_refresh_tokens_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_member_refresh_tokens_family"), "member_refresh_tokens", ["family"])
    op.create_index(
        op.f("ix_member_refresh_tokens_member_id"), "member_refresh_tokens", ["member_id"]
    )

    op.create_table(
        "member_privacy_preferences",
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("personalised_offers", sa.Boolean(), nullable=False),
        sa.Column("marketing_messages", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_privacy_preferences_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_privacy_preferences")),
    )


def downgrade() -> None:
    op.drop_table("member_privacy_preferences")
    op.drop_table("member_refresh_tokens")
    op.drop_table("member_sign_ins")
    op.drop_table("member_app_clients")
