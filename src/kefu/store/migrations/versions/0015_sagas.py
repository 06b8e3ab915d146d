"""sagas and saga_steps: the saga log, with leases for multi-node ownership

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sagas",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("customer_key", sa.String(length=200), nullable=True),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=60), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sagas")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sagas_idempotency_key")),
    )
    op.create_index(op.f("ix_sagas_customer_key"), "sagas", ["customer_key"])
    op.create_index(op.f("ix_sagas_status_lease_until"), "sagas", ["status", "lease_until"])
    op.create_index(op.f("ix_sagas_started_at_id"), "sagas", ["started_at", "id"])
    op.create_index(op.f("ix_sagas_name_started_at"), "sagas", ["name", "started_at"])
    op.create_table(
        "saga_steps",
        sa.Column("saga_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("compensation_attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("maybe_applied", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compensation_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["saga_id"], ["sagas.id"], name=op.f("fk_saga_steps_saga_id_sagas")
        ),
        sa.PrimaryKeyConstraint("saga_id", "position", name=op.f("pk_saga_steps")),
    )


def downgrade() -> None:
    op.drop_table("saga_steps")
    op.drop_index(op.f("ix_sagas_name_started_at"), table_name="sagas")
    op.drop_index(op.f("ix_sagas_started_at_id"), table_name="sagas")
    op.drop_index(op.f("ix_sagas_status_lease_until"), table_name="sagas")
    op.drop_index(op.f("ix_sagas_customer_key"), table_name="sagas")
    op.drop_table("sagas")
