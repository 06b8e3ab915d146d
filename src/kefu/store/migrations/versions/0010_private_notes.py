"""private notes: messages.internal (agents only, never shown to the visitor)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: SQLite adds the column in place, PostgreSQL (11+) without
    # rewriting the table, however many messages it holds.
    op.add_column(
        "messages",
        sa.Column("internal", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("internal")
