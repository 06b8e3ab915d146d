"""agent presence across nodes (shared assignment)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.String(length=120), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "node_id", name=op.f("pk_agent_presence")),
    )
    op.create_index(op.f("ix_agent_presence_node_id"), "agent_presence", ["node_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_presence_node_id"), table_name="agent_presence")
    op.drop_table("agent_presence")
