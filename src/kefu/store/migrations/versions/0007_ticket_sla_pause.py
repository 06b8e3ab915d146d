"""ticket SLA pause: the resolution clock stops while a ticket is pending

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("sla_paused_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tickets",
        sa.Column("sla_paused_minutes", sa.Float(), nullable=False, server_default=sa.text("0")),
    )
    # Tickets already pending: their clock pauses from their last change, the nearest
    # moment the row knows (the history could say more, but only as JSON per dialect).
    op.execute("UPDATE tickets SET sla_paused_at = updated_at WHERE status = 'pending'")


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("sla_paused_minutes")
        batch.drop_column("sla_paused_at")
